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

/// The widget's weight budget (issue 3): what a page downloads before the visitor opens the chat
/// (`/widget.js`) ≤ 15 KB gzipped, and the whole widget with the chat window (`/widget/chat.js`,
/// fetched when the chat opens) ≤ 40 KB, measured as served.
#[tokio::test]
async fn the_widget_stays_within_its_weight_budget() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let mut total = 0;
    for (path, budget) in [("/widget.js", 15_000), ("/widget/chat.js", 25_000)] {
        let res = http.get(app.http(path)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-encoding"], "gzip", "{path}");
        let bytes = res.bytes().await.unwrap().len();
        println!("{path}: {bytes} bytes gzipped");
        assert!(bytes <= budget, "{path} is {bytes} bytes gzipped, over its {budget}-byte budget");
        total += bytes;
    }
    assert!(total <= 40_000, "the full widget is {total} bytes gzipped, over 40 KB");
}
