//! Authenticated visitors, with real keys generated here: every way a token can be wrong is
//! refused with its own code; key rotation through a JWKS served by a small local key server;
//! and the visitor socket end to end (required auth, the token's context winning, signing in
//! mid-conversation, an expired token never becoming an anonymous chat).

use base64::Engine;
use beckon_domain::model::{PublicKey, WidgetAuth};
use beckon_domain::{Clock, Timestamp, WidgetKey};
use beckon_server::visitor_auth::{AuthError, VisitorAuth};
use beckon_testkit::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const ISS: &str = "https://shop.example";
/// 2026-01-01T00:00:00Z, the test clock's start.
const NOW_S: i64 = 1_767_225_600;

struct RsaPair {
    private_pem: String,
    public_pem: String,
    jwk_n: String,
    jwk_e: String,
}

fn rsa_pair(slot: usize) -> &'static RsaPair {
    static KEYS: [OnceLock<RsaPair>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    KEYS[slot].get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let public = private.to_public_key();
        let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        RsaPair {
            private_pem: private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
            jwk_n: b64(public.n().to_bytes_be()),
            jwk_e: b64(public.e().to_bytes_be()),
        }
    })
}

fn ec_pair() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let private = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap().to_string();
        let public = secret.public_key().to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap();
        (private, public)
    })
}

fn claims() -> Value {
    json!({
        "iss": ISS,
        "sub": "user-42",
        "iat": NOW_S - 10,
        "exp": NOW_S + 600,
        "lwicontexts": "{\"Tier\": {\"value\": \"gold\", \"isDisplayable\": true}, \"Case Id\": \"JWT-1\"}",
    })
}

fn sign_rs(slot: usize, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(rsa_pair(slot).private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn config() -> WidgetAuth {
    WidgetAuth {
        required: true,
        issuers: vec![ISS.into()],
        audience: None,
        leeway_secs: 30,
        keys: vec![
            PublicKey { kid: "rsa-1".into(), pem: rsa_pair(0).public_pem.clone() },
            PublicKey { kid: "ec-1".into(), pem: ec_pair().1.clone() },
        ],
        jwks_url: None,
    }
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn verify(
    cfg: &WidgetAuth,
    token: &str,
    now_s: i64,
) -> Result<beckon_server::visitor_auth::Identity, AuthError> {
    VisitorAuth::new(Duration::from_secs(30)).verify(Some(cfg), token, Timestamp(now_s * 1_000)).await
}

#[tokio::test]
async fn good_tokens_give_the_identity_and_context() {
    let cfg = config();
    let id = verify(&cfg, &sign_rs(0, Some("rsa-1"), &claims()), NOW_S).await.unwrap();
    assert_eq!((id.sub.as_str(), id.issuer.as_str()), ("user-42", ISS));
    assert_eq!(id.expires_at, Timestamp((NOW_S + 600) * 1_000));
    assert_eq!(id.context.get("Tier").unwrap().value.display(), "gold");
    assert!(id.context.get("Tier").unwrap().displayable);
    assert!(!id.context.get("Case Id").unwrap().displayable);

    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".into());
    let es =
        jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_ec_pem(ec_pair().0.as_bytes()).unwrap())
            .unwrap();
    assert_eq!(verify(&cfg, &es, NOW_S).await.unwrap().sub, "user-42");

    // Without a kid, a widget with a single key uses it.
    let single = WidgetAuth { keys: vec![cfg.keys[0].clone()], ..cfg.clone() };
    assert!(verify(&single, &sign_rs(0, None, &claims()), NOW_S).await.is_ok());
    assert_eq!(verify(&cfg, &sign_rs(0, None, &claims()), NOW_S).await, Err(AuthError::KidRequired));
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused_with_its_own_code() {
    let cfg = config();
    let c = claims();
    let code = |r: Result<_, AuthError>| r.map(|_| ()).unwrap_err().code();

    // Algorithm confusion: `none`, and HS256 "signed" with the public key as the HMAC secret.
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "rsa-1"})), b64(&c));
    assert_eq!(code(verify(&cfg, &none, NOW_S).await), "token_algorithm_not_allowed");
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa-1".into());
    let hs =
        jsonwebtoken::encode(&hs, &c, &EncodingKey::from_secret(rsa_pair(0).public_pem.as_bytes())).unwrap();
    assert_eq!(code(verify(&cfg, &hs, NOW_S).await), "token_algorithm_not_allowed");
    // RS256 claimed, but the kid names the EC key: the key decides the algorithm.
    assert_eq!(code(verify(&cfg, &sign_rs(0, Some("ec-1"), &c), NOW_S).await), "token_algorithm_not_allowed");

    assert_eq!(code(verify(&cfg, &sign_rs(0, Some("who"), &c), NOW_S).await), "token_unknown_kid");
    // Signed by another key under a known kid.
    assert_eq!(code(verify(&cfg, &sign_rs(1, Some("rsa-1"), &c), NOW_S).await), "token_bad_signature");
    // Tampered claims.
    let good = sign_rs(0, Some("rsa-1"), &c);
    let parts: Vec<_> = good.split('.').collect();
    let mut evil = c.clone();
    evil["sub"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    assert_eq!(code(verify(&cfg, &tampered, NOW_S).await), "token_bad_signature");

    // Time, with 30 s of leeway.
    assert_eq!(code(verify(&cfg, &good, NOW_S + 631).await), "token_expired");
    assert!(verify(&cfg, &good, NOW_S + 620).await.is_ok(), "within the leeway");
    let mut later = c.clone();
    later["nbf"] = json!(NOW_S + 120);
    assert_eq!(code(verify(&cfg, &sign_rs(0, Some("rsa-1"), &later), NOW_S).await), "token_not_yet_valid");

    // Issuer and audience.
    let mut other = c.clone();
    other["iss"] = json!("https://evil.example");
    assert_eq!(code(verify(&cfg, &sign_rs(0, Some("rsa-1"), &other), NOW_S).await), "token_bad_issuer");
    let with_aud = WidgetAuth { audience: Some("beckon".into()), ..cfg.clone() };
    assert_eq!(code(verify(&with_aud, &good, NOW_S).await), "token_bad_audience");
    let mut aud = c.clone();
    aud["aud"] = json!(["other", "beckon"]);
    assert!(verify(&with_aud, &sign_rs(0, Some("rsa-1"), &aud), NOW_S).await.is_ok());

    // Required claims.
    for claim in ["iss", "sub", "iat", "exp"] {
        let mut missing = c.clone();
        missing.as_object_mut().unwrap().remove(claim);
        let r = verify(&cfg, &sign_rs(0, Some("rsa-1"), &missing), NOW_S).await;
        assert_eq!(r.map(|_| ()), Err(AuthError::MissingClaim(claim)));
    }
    // lwicontexts must be a string holding a JSON object.
    for bad in [json!({"Tier": "gold"}), json!("not json"), json!("[1,2]")] {
        let mut b = c.clone();
        b["lwicontexts"] = bad;
        assert_eq!(code(verify(&cfg, &sign_rs(0, Some("rsa-1"), &b), NOW_S).await), "token_bad_contexts");
    }

    for junk in ["", "abc", "a.b", "a.b.c.d", "!!!.???.###"] {
        assert_eq!(code(verify(&cfg, junk, NOW_S).await), "token_malformed", "{junk:?}");
    }
    let r = VisitorAuth::new(Duration::from_secs(1)).verify(None, &good, Timestamp(NOW_S * 1_000)).await;
    assert_eq!(r.map(|_| ()), Err(AuthError::NotConfigured));
}

/// A JWKS endpoint whose keys the test can rotate, counting fetches.
struct KeyServer {
    url: String,
    keys: Arc<Mutex<Vec<(String, usize)>>>,
    fetches: Arc<AtomicUsize>,
}

async fn key_server() -> KeyServer {
    let keys: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let fetches = Arc::new(AtomicUsize::new(0));
    let (k, f) = (keys.clone(), fetches.clone());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (k, f) = (k.clone(), f.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                let keys: Vec<Value> = k
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(kid, slot)| {
                        let p = rsa_pair(*slot);
                        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": p.jwk_n, "e": p.jwk_e})
                    })
                    .collect();
                axum::Json(json!({ "keys": keys }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    KeyServer { url, keys, fetches }
}

#[tokio::test]
async fn jwks_keys_rotate_and_unknown_kids_refetch_at_a_bounded_rate() {
    let ks = key_server().await;
    ks.keys.lock().unwrap().push(("2026-01".into(), 0));
    let cfg = WidgetAuth { keys: vec![], jwks_url: Some(ks.url.clone()), ..config() };
    let auth = VisitorAuth::new(Duration::from_secs(60));
    let at = |s: i64| Timestamp(s * 1_000);

    assert!(auth.verify(Some(&cfg), &sign_rs(0, Some("2026-01"), &claims()), at(NOW_S)).await.is_ok());
    assert!(auth.verify(Some(&cfg), &sign_rs(0, Some("2026-01"), &claims()), at(NOW_S + 1)).await.is_ok());
    assert_eq!(ks.fetches.load(Ordering::SeqCst), 1, "cached");

    // The site rotates to a new key. Within the refresh interval an unknown kid is refused
    // without asking again…
    ks.keys.lock().unwrap().push(("2026-02".into(), 2));
    let new_token = sign_rs(2, Some("2026-02"), &claims());
    let r = auth.verify(Some(&cfg), &new_token, at(NOW_S + 10)).await;
    assert_eq!(r.map(|_| ()), Err(AuthError::UnknownKid("2026-02".into())));
    assert_eq!(ks.fetches.load(Ordering::SeqCst), 1);
    // …after it, the unknown kid triggers one refetch and the new key works.
    assert!(auth.verify(Some(&cfg), &new_token, at(NOW_S + 61)).await.is_ok());
    assert_eq!(ks.fetches.load(Ordering::SeqCst), 2);
    // A flood of tokens with a bogus kid costs at most one fetch per interval.
    for i in 0..20 {
        let r = auth.verify(Some(&cfg), &sign_rs(0, Some("bogus"), &claims()), at(NOW_S + 62 + i)).await;
        assert!(r.is_err());
    }
    assert_eq!(ks.fetches.load(Ordering::SeqCst), 2);
    let r = auth.verify(Some(&cfg), &sign_rs(0, Some("bogus"), &claims()), at(NOW_S + 200)).await;
    assert!(r.is_err());
    assert_eq!(ks.fetches.load(Ordering::SeqCst), 3);
}

async fn set_demo_auth(app: &TestApp, auth: WidgetAuth) {
    let state = app.app.as_ref().unwrap().state();
    let w = state.store.widget_by_key(&WidgetKey::parse(DEMO_WIDGET_KEY).unwrap()).await.unwrap().unwrap();
    state.store.set_widget_auth(w.id, Some(&auth)).await.unwrap();
}

#[tokio::test]
async fn the_visitor_socket_requires_valid_tokens_and_never_falls_back_to_anonymous() {
    let app = spawn_app().await;
    assert_eq!(app.clock.now(), Timestamp(NOW_S * 1_000));
    set_demo_auth(&app, config()).await;
    let mut agent = app.available_agent().await;
    let (mut v, welcome) = app.new_visitor().await;
    assert_eq!(welcome["auth"], "required");

    let f = v.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(f["code"], "auth_required");
    let f = v
        .request(json!({"type": "start_chat", "auth_token": sign_rs(1, Some("rsa-1"), &claims())}))
        .await
        .unwrap();
    assert_eq!(f["code"], "token_bad_signature");
    let mut expired = claims();
    expired["exp"] = json!(NOW_S - 3_600);
    let f = v
        .request(json!({"type": "start_chat", "auth_token": sign_rs(0, Some("rsa-1"), &expired)}))
        .await
        .unwrap();
    assert_eq!(f["code"], "token_expired");
    let f = v.request(json!({"type": "close_chat"})).await.unwrap();
    assert_eq!(f["code"], "no_open_conversation", "no chat was started by any of those");

    // A good token: the chat is the person's, and the token's context wins over the page's.
    let page_context = json!({"Case Id": {"value": "from the page", "isDisplayable": true}, "Page": "x"});
    let chat = v
        .request(json!({"type": "start_chat", "context": page_context, "auth_token": sign_rs(0, Some("rsa-1"), &claims())}))
        .await
        .unwrap();
    let conv = &chat["conversation"];
    assert_eq!(conv["authenticated_as"], "user-42");
    assert_eq!(conv["context"]["Case Id"]["value"], "JWT-1");
    assert_eq!(conv["context"]["Tier"]["value"], "gold");
    assert_eq!(conv["context"]["Page"]["value"], "x");
    let offer = agent.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["authenticated_as"], "user-42");

    // The token expires during the visit: a new chat needs a fresh one from the provider.
    v.request(json!({"type": "close_chat"})).await.unwrap();
    app.clock.advance_millis(3_600_000);
    let f = v.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(f["code"], "token_expired");
}

#[tokio::test]
async fn an_anonymous_visitor_who_signs_in_keeps_the_conversation() {
    let app = spawn_app().await;
    set_demo_auth(&app, WidgetAuth { required: false, ..config() }).await;
    let mut agent = app.available_agent().await;
    let (mut v, welcome) = app.new_visitor().await;
    assert_eq!(welcome["auth"], "optional");
    let chat = v.request(json!({"type": "start_chat", "context": {"Case Id": "page"}})).await.unwrap();
    let cid = chat["conversation"]["id"].clone();
    assert!(chat["conversation"]["authenticated_as"].is_null());
    let offer = agent.expect("offer").await.unwrap();
    agent.request(json!({"type": "accept", "conversation_id": offer["conversation"]["id"]})).await.unwrap();

    let f = v
        .request(json!({"type": "authenticate", "token": sign_rs(0, Some("who"), &claims())}))
        .await
        .unwrap();
    assert_eq!(f["code"], "token_unknown_kid");
    let f = v
        .request(json!({"type": "authenticate", "token": sign_rs(0, Some("rsa-1"), &claims())}))
        .await
        .unwrap();
    assert_eq!((f["type"].as_str(), f["sub"].as_str()), (Some("authenticated"), Some("user-42")));
    let pushed = v
        .wait_for("chat update", |f| {
            f["type"] == "chat" && f["conversation"]["authenticated_as"] == "user-42"
        })
        .await
        .unwrap();
    assert_eq!(pushed["conversation"]["id"], cid, "the same conversation");
    assert_eq!(pushed["conversation"]["context"]["Case Id"]["value"], "JWT-1");
    let seen = agent
        .wait_for("authenticated", |f| {
            f["type"] == "chat" && f["conversation"]["authenticated_as"] == "user-42"
        })
        .await
        .unwrap();
    assert_eq!(seen["conversation"]["state"], "active");
    let ack =
        v.request(json!({"type": "send", "client_msg_id": "after", "text": "signed in now"})).await.unwrap();
    assert_eq!(ack["type"], "ack");
}

#[tokio::test]
async fn trigger_rules_see_the_signed_in_identity_and_its_context() {
    let app = spawn_app().await;
    set_demo_auth(&app, WidgetAuth { required: false, ..config() }).await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let rule = json!({
        "id": 1,
        "name": "Gold customers",
        "conditions": {"all": [
            {"authenticated": true},
            {"context": {"name": "Tier", "op": "equals", "value": "gold"}}
        ]},
        "invite": {"message": "Welcome back! Case {context:Case Id} is with us."},
        "limits": {"require_free_agent": false}
    });
    let res = reqwest::Client::new()
        .put(app.http("/v1/admin/trigger-rules"))
        .header("cookie", &cookie)
        .json(&json!({ "rules": [rule] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (mut v, welcome) = app.new_visitor().await;
    // Anonymous: the rule does not hold, even when the page claims the tier itself.
    v.send(json!({"type": "set_context", "context": {"Tier": "gold"}})).await.unwrap();
    let why: Value =
        app.get_json(&format!("/v1/agent/visitors/{}/why", welcome["visitor_id"]), &cookie).await;
    assert_eq!(why["rules"][0]["verdict"]["kind"], "no_match", "{why}");
    // Signed in: the token's identity and `lwicontexts` make it fire, with the token's case.
    let f = v
        .request(json!({"type": "authenticate", "token": sign_rs(0, Some("rsa-1"), &claims())}))
        .await
        .unwrap();
    assert_eq!(f["type"], "authenticated");
    let invite = v.expect("invite").await.unwrap();
    assert_eq!(invite["message"], "Welcome back! Case JWT-1 is with us.");
}

#[tokio::test]
async fn one_sub_from_two_issuers_is_two_people() {
    let app = spawn_app().await;
    let other_iss = "https://partner-idp.example";
    set_demo_auth(&app, WidgetAuth { issuers: vec![ISS.into(), other_iss.into()], ..config() }).await;
    let mut agent = app.available_agent().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let mut ids = Vec::new();
    for iss in [ISS, other_iss] {
        let (mut v, _) = app.new_visitor().await;
        let mut c = claims();
        c["iss"] = json!(iss);
        let chat = v
            .request(json!({"type": "start_chat", "auth_token": sign_rs(0, Some("rsa-1"), &c)}))
            .await
            .unwrap();
        let cid = chat["conversation"]["id"].as_i64().unwrap();
        agent.expect("offer").await.unwrap();
        agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
        v.request(json!({"type": "close_chat"})).await.unwrap();
        ids.push(cid);
    }
    for (mine, theirs) in [(ids[0], ids[1]), (ids[1], ids[0])] {
        let panel = app.get_json(&format!("/v1/agent/conversations/{mine}/visitor"), &cookie).await;
        assert_eq!(panel["authenticated_as"], "user-42");
        let earlier: Vec<_> = panel["earlier_conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert!(!earlier.contains(&theirs), "another issuer's user-42 is someone else: {earlier:?}");
    }
}
