//! The web map's files over HTTP, as a slow link needs them: the page revalidates (ETag,
//! 304), everything it loads has a content-hashed URL cached for a year, and text comes
//! brotli- or gzip-compressed as the client asks, decoding to the very bytes sent plain.

mod common;

use std::io::Read;

use common::*;

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.header(name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn the_page_revalidates_and_its_files_are_hashed_compressed_and_immutable() {
    let server = Server::start(&["--web", path_str(&repo().join("web"))]);
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let etag = header(&page, "etag").to_string();
    let again = get_with(&format!("{}/", server.base), &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());

    // Every script and stylesheet the page links has a hashed URL.
    let links = regex::Regex::new(r#"(?:src|href)="(/[^"]+)""#).unwrap();
    let hashed = regex::Regex::new(r"\.[0-9a-f]{16}\.(js|css)$").unwrap();
    let urls: Vec<String> = links
        .captures_iter(&page.body)
        .map(|c| c[1].to_string())
        .filter(|u| u.ends_with(".js") || u.ends_with(".css"))
        .collect();
    assert!(urls.len() >= 3, "{urls:?}");
    // Modules import each other; the app loads MapLibre's stylesheet itself.
    let import = regex::Regex::new(r#"(?:from '\.|href = ')(/[^']+)'"#).unwrap();
    let mut imported = Vec::new();
    for url in &urls {
        assert!(hashed.is_match(url), "{url} is not content-hashed");
        let full = format!("{}{url}", server.base);
        let plain = get_with(&full, &[("Accept-Encoding", "identity")]);
        assert_eq!(plain.status, 200, "{url}");
        assert_eq!(
            header(&plain, "cache-control"),
            "public, max-age=31536000, immutable",
            "{url}"
        );
        assert!(plain.header("content-encoding").is_none(), "{url}");
        let br = get_with(&full, &[("Accept-Encoding", "gzip, deflate, br")]);
        assert_eq!(header(&br, "content-encoding"), "br", "{url}");
        assert_eq!(header(&br, "vary"), "Accept-Encoding");
        let mut unbr = Vec::new();
        brotli::Decompressor::new(br.bytes.as_slice(), 4096)
            .read_to_end(&mut unbr)
            .unwrap();
        assert_eq!(unbr, plain.bytes, "{url}: brotli");
        let gz = get_with(&full, &[("Accept-Encoding", "gzip")]);
        assert_eq!(header(&gz, "content-encoding"), "gzip", "{url}");
        let mut ungz = Vec::new();
        flate2::read::GzDecoder::new(gz.bytes.as_slice())
            .read_to_end(&mut ungz)
            .unwrap();
        assert_eq!(ungz, plain.bytes, "{url}: gzip");
        if url.contains("maplibre-gl") && url.ends_with(".js") {
            assert!(
                br.bytes.len() * 3 < plain.bytes.len(),
                "{url}: {} of {}",
                br.bytes.len(),
                plain.bytes.len()
            );
        }
        // A module's imports are hashed too.
        imported.extend(import.captures_iter(&plain.body).map(|c| c[1].to_string()));
    }
    assert!(!imported.is_empty());
    for url in imported {
        assert!(hashed.is_match(&url), "import {url} is not content-hashed");
        assert_eq!(server.get(&url).status, 200, "{url}");
    }

    // Label glyphs: gzipped when asked, the same bytes unzipped.
    let glyphs = format!("{}/fonts/DejaVu%20Sans/0-255.pbf", server.base);
    let plain = get_with(&glyphs, &[("Accept-Encoding", "identity")]);
    let gz = get_with(&glyphs, &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(header(&gz, "content-encoding"), "gzip");
    let mut ungz = Vec::new();
    flate2::read::GzDecoder::new(gz.bytes.as_slice())
        .read_to_end(&mut ungz)
        .unwrap();
    assert_eq!(ungz, plain.bytes);
    assert!(gz.bytes.len() * 2 < plain.bytes.len());

    // The plain names still answer, uncached.
    let plain = server.get("/app.js");
    assert_eq!(plain.status, 200);
    assert_eq!(header(&plain, "cache-control"), "no-cache");
}

/// Installable and usable offline: a manifest with icons, and a service worker at a fixed,
/// revalidated URL whose shell lists the files under the URLs the page loads.
#[test]
fn the_app_has_a_manifest_and_an_offline_worker() {
    let server = Server::start(&["--web", path_str(&repo().join("web"))]);
    let page = server.get("/");
    let manifest_url =
        regex::Regex::new(r#"<link rel="manifest" href="(/manifest\.[0-9a-f]{16}\.webmanifest)">"#)
            .unwrap()
            .captures(&page.body)
            .expect("a hashed manifest link")[1]
            .to_string();
    let manifest = server.json(&manifest_url);
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["display"], "standalone");
    let sizes: Vec<&str> = manifest["icons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let icon = server.get(i["src"].as_str().unwrap());
            assert_eq!(icon.status, 200, "{i}");
            assert_eq!(icon.content_type, "image/png");
            assert_eq!(&icon.bytes[1..4], b"PNG");
            i["sizes"].as_str().unwrap()
        })
        .collect();
    assert_eq!(sizes, ["192x192", "512x512"]);

    let sw = server.get("/sw.js");
    assert_eq!(sw.status, 200);
    assert_eq!(header(&sw, "cache-control"), "no-cache");
    assert!(sw.content_type.starts_with("text/javascript"));
    let shell: Vec<String> = regex::Regex::new(r"'(/[^']*)',")
        .unwrap()
        .captures_iter(&sw.body)
        .map(|c| c[1].to_string())
        .collect();
    assert!(shell.len() >= 7, "{shell:?}");
    for url in shell.iter().filter(|u| *u != "/") {
        assert_eq!(server.get(url).status, 200, "{url}");
    }
    // Every script the page loads is kept for offline use.
    let scripts = regex::Regex::new(r#"<script[^>]* src="(/[^"]+)""#).unwrap();
    for c in scripts.captures_iter(&page.body) {
        assert!(
            shell.contains(&c[1].to_string()),
            "{} is not in the worker's shell",
            &c[1]
        );
    }
    let hashed = regex::Regex::new(r"\.[0-9a-f]{16}\.").unwrap();
    assert!(
        shell
            .iter()
            .filter(|u| *u != "/")
            .all(|u| hashed.is_match(u)),
        "{shell:?}"
    );
}

/// The image serves the same web map: every file of `web/` the server serves is copied
/// into it (the analysis views' script was once left out).
#[test]
fn the_image_carries_every_web_file() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    for entry in std::fs::read_dir(repo().join("web")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_file() || name.starts_with('.') || name.starts_with("package") {
            continue;
        }
        assert!(
            dockerfile.contains(&format!("/src/web/{name}")),
            "the Dockerfile does not copy web/{name} into the image"
        );
        let allowed = ignore.lines().any(|l| {
            let pattern = l.trim_start_matches('!');
            l.starts_with('!')
                && (pattern == format!("web/{name}")
                    || pattern.strip_suffix("*.png").is_some_and(|p| {
                        format!("web/{name}").starts_with(p) && name.ends_with(".png")
                    }))
        });
        assert!(
            allowed,
            ".dockerignore leaves web/{name} out of the build context"
        );
    }
}
