//! The routing rule of DESIGN.md §3 in one pure function: which Copilot endpoint serves a
//! request, given the API the client speaks and what the catalog says the model supports.

use crate::upstream::catalog::Model;

/// An API, inbound (what the client speaks) or upstream (what Copilot is sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Chat,
    Messages,
    Responses,
}

impl Api {
    pub fn path(self) -> &'static str {
        match self {
            Api::Chat => "/chat/completions",
            Api::Messages => "/v1/messages",
            Api::Responses => "/responses",
        }
    }

    /// Upstream endpoints in order of preference for this inbound API: native first, then
    /// translation through the Chat pivot.
    fn preference(self) -> [Api; 3] {
        match self {
            Api::Messages => [Api::Messages, Api::Chat, Api::Responses],
            Api::Chat => [Api::Chat, Api::Responses, Api::Messages],
            Api::Responses => [Api::Responses, Api::Chat, Api::Messages],
        }
    }
}

/// Translations this build has, as (inbound, upstream) pairs; pass-through is always there.
const TRANSLATIONS: [(Api, Api); 4] = [
    (Api::Messages, Api::Chat),
    (Api::Messages, Api::Responses),
    (Api::Chat, Api::Responses),
    (Api::Responses, Api::Chat),
];

fn available(inbound: Api, upstream: Api) -> bool {
    inbound == upstream || TRANSLATIONS.contains(&(inbound, upstream))
}

/// Where to send a request. An unknown model is treated like a model without
/// `supported_endpoints`: Chat for Messages, else the inbound API's own endpoint, so that
/// Copilot's own error reaches the client.
pub fn decide(inbound: Api, model: Option<&Model>, native_messages: bool) -> Result<Api, String> {
    let Some(model) = model else {
        return Ok(default_for(inbound));
    };
    let supported =
        |api: Api| model.supports(api.path()) && (api != Api::Messages || native_messages);
    inbound
        .preference()
        .into_iter()
        .find(|api| supported(*api) && available(inbound, *api))
        .ok_or_else(|| {
            format!(
                "model `{}` is served by Copilot on {}, which {} cannot reach",
                model.id,
                model.supported_endpoints.join(", "),
                match inbound {
                    Api::Chat => "/v1/chat/completions",
                    Api::Messages => "/v1/messages",
                    Api::Responses => "/v1/responses",
                }
            )
        })
}

fn default_for(inbound: Api) -> Api {
    match inbound {
        Api::Messages => Api::Chat,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(endpoints: Option<&[&str]>) -> Model {
        let mut v = json!({"id": "m"});
        if let Some(e) = endpoints {
            v["supported_endpoints"] = json!(e);
        }
        Model::from_upstream(&v).unwrap()
    }

    #[test]
    fn the_whole_matrix() {
        let chat_only = model(Some(&["/chat/completions"]));
        let no_list = model(None);
        let claude = model(Some(&["/chat/completions", "/v1/messages"]));
        let codex = model(Some(&["/responses", "ws:/responses"]));
        let messages_only = model(Some(&["/v1/messages"]));
        type Case<'a> = (Api, Option<&'a Model>, bool, Result<Api, ()>);
        let cases: [Case; 16] = [
            (Api::Chat, Some(&chat_only), true, Ok(Api::Chat)),
            (Api::Chat, Some(&no_list), true, Ok(Api::Chat)),
            (Api::Chat, Some(&claude), true, Ok(Api::Chat)),
            (Api::Chat, Some(&codex), true, Ok(Api::Responses)),
            (Api::Chat, None, true, Ok(Api::Chat)),
            (Api::Messages, Some(&claude), true, Ok(Api::Messages)),
            (Api::Messages, Some(&claude), false, Ok(Api::Chat)),
            (Api::Messages, Some(&chat_only), true, Ok(Api::Chat)),
            (Api::Messages, None, true, Ok(Api::Chat)),
            (Api::Responses, Some(&codex), true, Ok(Api::Responses)),
            (Api::Responses, Some(&chat_only), true, Ok(Api::Chat)),
            (Api::Responses, None, true, Ok(Api::Responses)),
            (Api::Messages, Some(&codex), true, Ok(Api::Responses)),
            (Api::Responses, Some(&claude), true, Ok(Api::Chat)),
            // Chat -> Messages is not built: a Messages-only model is out of reach there.
            (Api::Chat, Some(&messages_only), true, Err(())),
            (Api::Messages, Some(&messages_only), false, Err(())),
        ];
        for (inbound, m, native, want) in cases {
            let got = decide(inbound, m, native).map_err(|_| ());
            assert_eq!(
                got,
                want,
                "{inbound:?} {:?} native={native}",
                m.map(|m| &m.supported_endpoints)
            );
        }
    }
}
