//! The reader's journey in a real browser: headless Chromium driven over WebDriver
//! (chromedriver). Screenshots of each step land in `target/browser-artifacts/`.
//! `.ci/run` installs Debian's chromium and chromium-driver when they are missing; outside CI
//! the test skips, saying so, if there is no chromedriver.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::server::Server;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Option<(Driver, u16)> {
    let path = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let mut child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    // chromedriver says when it listens.
    for line in lines.by_ref() {
        if line.ok()?.contains("started successfully") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Some((Driver(child), port))
}

#[test]
fn a_historian_travels_in_time_in_a_real_browser() {
    let Some((_driver, port)) = chromedriver() else {
        assert!(std::env::var_os("CI").is_none(), "CI must have chromedriver (.ci/run installs it)");
        eprintln!("skipping: no chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let s = Server::with_fixtures();
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let base = s.base.clone();
    let editor = s.editor.clone();
    s.rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--window-size=1100,900", format!("--user-data-dir={}", profile.path().display())]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        // After a click, wait until the browser is on the page it leads to (WebDriver's own
        // bounded wait on the navigation, not a sleep).
        let arrive = |path: &'static str| {
            let c = c.clone();
            let url = url::Url::parse(&format!("{base}{path}")).unwrap();
            async move { c.wait().at_most(std::time::Duration::from_secs(20)).for_url(&url).await.unwrap() }
        };
        let shot = |name: &'static str| {
            let c = c.clone();
            let artifacts = artifacts.clone();
            async move {
                let png = c.screenshot().await.unwrap();
                std::fs::write(artifacts.join(format!("{name}.png")), png).unwrap();
            }
        };

        // Search for a word today: nothing (a revision removed it).
        c.goto(&format!("{base}/")).await.unwrap();
        let q = c.find(Locator::Css("form.search input[name=q]")).await.unwrap();
        q.send_keys("zeppelin").await.unwrap();
        c.find(Locator::Css("form.search button")).await.unwrap().click().await.unwrap();
        arrive("/?q=zeppelin").await;
        let meta = c.find(Locator::Css("section.results p.meta")).await.unwrap().text().await.unwrap();
        assert!(meta.starts_with("0 articles"), "{meta}");
        shot("1-search-today").await;

        // Set the date before the revision: the time control re-renders the same view then.
        c.execute("document.getElementById('asOf').value = '1920-12-31';", vec![]).await.unwrap();
        c.find(Locator::Css("form.time input[type=submit]")).await.unwrap().click().await.unwrap();
        arrive("/?q=zeppelin&asOf=1920-12-31").await;
        let banner = c.find(Locator::Css("p.banner")).await.unwrap().text().await.unwrap();
        assert!(banner.contains("31 December 1920"), "{banner}");
        let mark = c.find(Locator::Css("div.hit mark")).await.unwrap().text().await.unwrap();
        assert_eq!(mark.to_lowercase(), "zeppelin");
        shot("2-search-1920").await;

        // Open the first result: the old text.
        c.find(Locator::Css("div.hit h2 a")).await.unwrap().click().await.unwrap();
        arrive("/articles/airship-seen-over-gannet-head?asOf=1920-12-31").await;
        let h1 = c.find(Locator::Css("article h1")).await.unwrap().text().await.unwrap();
        assert_eq!(h1, "Zeppelin Seen Over Gannet Head");
        shot("3-article-1920").await;

        // Today's text, then its history and the diff of the 1921 revision.
        c.find(Locator::Css("p.banner a")).await.unwrap().click().await.unwrap();
        arrive("/articles/airship-seen-over-gannet-head").await;
        let h1 = c.find(Locator::Css("article h1")).await.unwrap().text().await.unwrap();
        assert_eq!(h1, "Mystery Over Gannet Head Was a Runaway Balloon");
        c.find(Locator::LinkText("History")).await.unwrap().click().await.unwrap();
        arrive("/articles/airship-seen-over-gannet-head/history").await;
        // A reader's history: the public versions only (publication, then the 1921 revision).
        let rows = c.find_all(Locator::Css("table.revisions tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 2);
        rows[1].find(Locator::LinkText("diff")).await.unwrap().click().await.unwrap();
        arrive("/articles/airship-seen-over-gannet-head/history?from=3&to=4").await;
        let deleted = c.find_all(Locator::Css("section.diff del")).await.unwrap();
        let inserted = c.find_all(Locator::Css("section.diff ins")).await.unwrap();
        assert!(!deleted.is_empty() && !inserted.is_empty());
        let diff_text = c.find(Locator::Css("section.diff")).await.unwrap().text().await.unwrap();
        assert!(diff_text.contains("Zeppelin") && diff_text.contains("Balloon"), "{diff_text}");
        shot("4-history-diff").await;

        // Cite the article; a revision recorded afterwards leaves the cited page as it was.
        c.goto(&format!("{base}/articles/airship-seen-over-gannet-head")).await.unwrap();
        c.find(Locator::Css("a.cite")).await.unwrap().click().await.unwrap();
        arrive("/articles/airship-seen-over-gannet-head?basis=339").await;
        let cited = c.current_url().await.unwrap().to_string();
        let before = c.find(Locator::Css("main")).await.unwrap().html(false).await.unwrap();
        shot("5-cited").await;
        let client = reqwest::Client::new();
        let answer: serde_json::Value = client
            .post(format!("{base}/graphql"))
            .bearer_auth(&editor)
            .json(&json!({"query": "mutation { reviseArticle(input: {id: \"01H0000000000000000000B033\", headline: \"Balloon Over Gannet Head\"}) { position } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let position = answer["data"]["reviseArticle"]["position"].as_str().expect("the revision is recorded").to_owned();
        s.archive.projections().unwrap().wait_for(position.parse::<u64>().unwrap().into(), std::time::Duration::from_secs(30)).await.unwrap();
        c.goto(&format!("{base}/articles/airship-seen-over-gannet-head")).await.unwrap();
        let now = c.find(Locator::Css("article h1")).await.unwrap().text().await.unwrap();
        assert_eq!(now, "Balloon Over Gannet Head");
        c.goto(&cited).await.unwrap();
        let after = c.find(Locator::Css("main")).await.unwrap().html(false).await.unwrap();
        assert_eq!(before, after, "the cited page is the same after a new revision");
        shot("6-cited-after-revision").await;

        // A photograph placed at the top of the article: the browser loads its rendition, and
        // the figure leads to the image's page, which lists the article.
        let upload = crate::images::curl_upload(&s, Some(&editor), &crate::images::fixture("sea-wall.png"), "Spray over the sea wall");
        let image = upload["data"]["uploadImage"]["image"]["id"].as_str().expect("uploaded").to_owned();
        let placed: serde_json::Value = client
            .post(format!("{base}/graphql"))
            .bearer_auth(&editor)
            .json(&json!({"query": "mutation($i: ID!) { placeImage(input: {articleId: \"01H0000000000000000000B033\", imageId: $i, role: LEAD}) { position } }", "variables": {"i": image}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let position = placed["data"]["placeImage"]["position"].as_str().expect("placed").to_owned();
        s.archive.projections().unwrap().wait_for(position.parse::<u64>().unwrap().into(), std::time::Duration::from_secs(30)).await.unwrap();
        c.goto(&format!("{base}/articles/airship-seen-over-gannet-head")).await.unwrap();
        let figure = c.find(Locator::Css("article figure.lead")).await.unwrap();
        let caption = figure.find(Locator::Css("figcaption")).await.unwrap().text().await.unwrap();
        assert!(caption.contains("Spray over the sea wall"), "{caption}");
        // The browser picked a rendition from the srcset and decoded it (bounded wait for the load).
        let loaded = c
            .execute_async(
                "const [done] = arguments; const img = document.querySelector('figure.lead img'); \
                 const report = () => done([img.complete, img.naturalWidth, img.currentSrc]); \
                 if (img.complete) { report(); } else { img.addEventListener('load', report); img.addEventListener('error', report); }",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(loaded[0], true, "{loaded}");
        assert!(loaded[1].as_u64().unwrap_or(0) >= 160, "the lead image was decoded: {loaded}");
        assert!(loaded[2].as_str().unwrap_or("").contains(&format!("/images/{image}/full/")), "{loaded}");
        shot("7-lead-image").await;
        figure.find(Locator::Css("a")).await.unwrap().click().await.unwrap();
        let image_path: &'static str = Box::leak(format!("/images/{image}").into_boxed_str());
        arrive(image_path).await;
        let used = c.find(Locator::Css("section.usages")).await.unwrap().text().await.unwrap();
        assert!(used.contains("Balloon Over Gannet Head"), "{used}");
        shot("8-image-page").await;
        c.close().await.unwrap();
    });
}
