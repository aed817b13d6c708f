//! The web front ends are served from the binary: the demo site only under `beckon demo`, with
//! caching validators and compression.

use beckon_testkit::*;

#[tokio::test]
async fn the_demo_site_is_served_only_in_demo_mode() {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let demo = spawn_app_with(|s| s.demo = true).await;
    let home = http.get(demo.http("/")).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/demo/");
    let page = http.get(demo.http("/demo/scenario-1.html")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let etag = page.headers()["etag"].to_str().unwrap().to_owned();
    let body = page.text().await.unwrap();
    assert!(body.contains(r#"id="Microsoft_Omnichannel_LCWidget""#) && body.contains("startProactiveChat"));
    let again =
        http.get(demo.http("/demo/scenario-1.html")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let gz = http.get(demo.http("/demo/index.html")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let missing = http.get(demo.http("/demo/nope.html")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let plain = spawn_app().await;
    let home = http.get(plain.http("/")).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/console");
    let page = http.get(plain.http("/demo/scenario-1.html")).send().await.unwrap();
    assert_eq!(page.status(), 404, "`beckon serve` does not serve the demo site");
    let body: serde_json::Value = page.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}
