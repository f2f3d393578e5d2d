//! Unit tests of the token lifecycle: re-exchange after a 401, the refresh schedule and
//! its backoff, and which hosts a token may name as its base URL.

use super::*;
use serde_json::json;

fn endpoints(override_: Option<&str>, enterprise: Option<&str>) -> Endpoints {
    Endpoints {
        github_web: String::new(),
        github_api: String::new(),
        copilot_override: override_.map(Into::into),
        copilot_fallback: "https://api.githubcopilot.com".into(),
        account_type: "individual".into(),
        enterprise: enterprise.map(Into::into),
    }
}

fn store() -> TokenStore {
    TokenStore {
        github_token: String::new(),
        endpoints: endpoints(None, None),
        versions: Versions {
            editor_version: String::new(),
            plugin_version: String::new(),
            user_agent: String::new(),
            copilot_api_version: String::new(),
            integration_id: String::new(),
        },
        show_token: false,
        state: Mutex::new(State::default()),
        changed: Condvar::new(),
    }
}

fn issued(value: &str) -> Result<CopilotToken, ExchangeError> {
    let v = json!({"token": value, "refresh_in": 1500});
    parse_token(&v, SystemTime::now(), &endpoints(None, None))
}

/// Regression (issue 10, defect 1): a 401 within a second of the last exchange replayed
/// the token Copilot had just refused.
#[test]
fn a_401_right_after_an_exchange_exchanges_again() {
    let s = store();
    let first = s.refresh_with(None, || issued("one")).unwrap();
    let again = s.refresh_with(Some(first.generation), || issued("two"));
    assert_eq!(again.unwrap().value, "two");
    // A 401 for an older generation shares the newer token without exchanging.
    let shared = s.refresh_with(Some(first.generation), || panic!("no exchange expected"));
    assert_eq!(shared.unwrap().value, "two");
}

/// Regression (issue 10, defect 6): a panic inside the exchange left `refreshing` set,
/// and every later refresh waited on the condvar forever.
#[test]
fn a_panicking_exchange_leaves_no_flag_set() {
    let s = Arc::new(store());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.refresh_with(None, || panic!("exchange blew up"))
    }));
    assert!(panicked.is_err());
    let (tx, rx) = std::sync::mpsc::channel();
    let s2 = s.clone();
    std::thread::spawn(move || {
        let _ = tx.send(
            s2.refresh_with(None, || issued("after"))
                .map(|t| t.value.clone()),
        );
    });
    let got = rx.recv_timeout(Duration::from_secs(5));
    assert_eq!(got.expect("refresh hung").unwrap(), "after");
    assert!(s.valid().is_some());
}

fn delay(refresh_in: i64, expires_in: i64) -> u64 {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let v = json!({"token": "t", "refresh_in": refresh_in, "expires_at": 1_000_000 + expires_in});
    let t = parse_token(&v, now, &endpoints(None, None)).unwrap();
    t.refresh_at.duration_since(now).unwrap().as_secs()
}

#[test]
fn refresh_schedule() {
    assert_eq!(delay(1500, 1800), 1440);
    assert_eq!(delay(1500, 1000), 880); // expiry comes first
    assert_eq!(delay(100, 1800), 50); // short-lived: half of refresh_in
    assert_eq!(delay(2, 1800), 1);
    assert_eq!(delay(0, 1800), 1); // never a hot loop
    assert_eq!(delay(-5, 1800), 1);
}

#[test]
fn skewed_clock_keeps_token_usable() {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let v = json!({"token": "t", "refresh_in": 1500, "expires_at": 1_000_000 - 3600});
    let t = parse_token(&v, now, &endpoints(None, None)).unwrap();
    assert_eq!(t.expires.duration_since(now).unwrap().as_secs(), 1500);
    assert_eq!(t.refresh_at.duration_since(now).unwrap().as_secs(), 1380);
}

#[test]
fn base_url_from_token_only_for_allowed_hosts() {
    let base = |api: &str, e: &Endpoints| {
        let v = json!({"token": "t", "refresh_in": 1500, "endpoints": {"api": api}});
        parse_token(&v, SystemTime::now(), e).unwrap().api_base
    };
    let plain = endpoints(None, None);
    assert_eq!(
        base("https://api.individual.githubcopilot.com/", &plain),
        "https://api.individual.githubcopilot.com"
    );
    assert_eq!(
        base("http://api.githubcopilot.com", &plain),
        "https://api.githubcopilot.com"
    );
    assert_eq!(
        base("https://evil.example.com", &plain),
        "https://api.githubcopilot.com"
    );
    assert_eq!(
        base("https://githubcopilot.com.evil.io", &plain),
        "https://api.githubcopilot.com"
    );
    assert_eq!(
        base("https://u@x.githubcopilot.com", &plain),
        "https://api.githubcopilot.com"
    );
    let ghe = endpoints(None, Some("acme.ghe.com"));
    assert_eq!(
        base("https://copilot-api.acme.ghe.com", &ghe),
        "https://copilot-api.acme.ghe.com"
    );
    let over = endpoints(Some("http://127.0.0.1:9"), None);
    assert_eq!(
        base("https://api.individual.githubcopilot.com", &over),
        "http://127.0.0.1:9"
    );
}

#[test]
fn backoff_grows_and_is_capped() {
    let secs = |n| backoff(n).as_secs_f64();
    assert!((0.75..=1.25).contains(&secs(1)));
    assert!((1.5..=2.5).contains(&secs(2)));
    assert!((3.0..=5.0).contains(&secs(3)));
    assert!(secs(30) <= 75.0);
}
