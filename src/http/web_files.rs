//! The web map's files, read once at start-up from the web directory and served for slow
//! links:
//!
//! 1. every file but the page and the service worker gets a content-hashed URL (`/app.3f9c….js`), and the
//!    page's and our scripts' references are rewritten to it, so those URLs can be cached
//!    for a year (`immutable`) and a new version is a new URL;
//! 2. the page (`/`, `/index.html`) revalidates: `no-cache` with an ETag (304);
//! 3. text is sent brotli- or gzip-compressed as `Accept-Encoding` allows, each file
//!    compressed once (in the background after start-up, or on first request) and kept.
//!
//! The plain names (`/app.js`) still answer, uncached, for anyone who links them.

use std::collections::HashMap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::compress::accepts;
use crate::support::gzip::{Compression, gzip};

/// The page, served at `/` and under its own name, never under a hashed URL.
const PAGE: &str = "/index.html";
/// Files whose URL must stay put: the page, and the service worker (a browser checks the
/// worker's own URL for updates).
const UNHASHED: [&str; 2] = [PAGE, "/sw.js"];
/// How long a hashed URL may be cached: a year, the most HTTP caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Smaller files are sent as they are: compression would save less than its framing.
const MIN_COMPRESSED: usize = 1024;

/// One file: its bytes, and their compressed forms once made.
struct WebFile {
    content_type: HeaderValue,
    raw: Bytes,
    etag: String,
    compressible: bool,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
}

impl WebFile {
    fn new(content_type: HeaderValue, raw: Bytes) -> WebFile {
        let ct = content_type.to_str().unwrap_or("");
        let compressible = raw.len() >= MIN_COMPRESSED
            && (ct.starts_with("text/")
                || ct.contains("javascript")
                || ct.contains("json")
                || ct.contains("svg"));
        WebFile {
            etag: format!("\"{}\"", content_hash(&raw)),
            content_type,
            raw,
            compressible,
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    fn brotli(&self) -> &Bytes {
        self.brotli.get_or_init(|| {
            let mut out = Vec::with_capacity(self.raw.len() / 3);
            // Quality 11 is the smallest; it costs about a second for MapLibre, once.
            let params = brotli::enc::BrotliEncoderParams {
                quality: 11,
                lgwin: 22,
                ..Default::default()
            };
            let _ = brotli::BrotliCompress(&mut self.raw.as_ref(), &mut out, &params);
            out.into()
        })
    }

    fn gzip(&self) -> &Bytes {
        self.gzip
            .get_or_init(|| gzip(&self.raw, Compression::best()).into())
    }
}

/// A file as served at one URL: the hashed one is cached for a year.
#[derive(Clone)]
struct Served {
    file: Arc<WebFile>,
    immutable: bool,
}

/// The web map's files, by URL path.
pub struct WebFiles {
    served: HashMap<String, Served>,
    /// `sha256-…` of each stylesheet inlined into the page, for its CSP `style-src`.
    inline_styles: Vec<String>,
}

/// The file's media type by its extension (`mime_guess`); text is UTF-8 here, said
/// explicitly so browsers need not guess.
fn content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let value = if mime.type_() == mime_guess::mime::TEXT && mime.get_param("charset").is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// 64 bits of the content as 16 hex digits: enough to tell versions apart.
fn content_hash(bytes: &[u8]) -> String {
    let mut h = twox_hash::XxHash64::with_seed(0);
    h.write(bytes);
    format!("{:016x}", h.finish())
}

/// `/dir/name.ext` with the hash before the extension: `/dir/name.HASH.ext`.
fn hashed_url(url: &str, hash: &str) -> String {
    match url
        .rfind('.')
        .filter(|&dot| dot > url.rfind('/').unwrap_or(0))
    {
        Some(dot) => format!("{}.{hash}{}", &url[..dot], &url[dot..]),
        None => format!("{url}.{hash}"),
    }
}

/// The files to serve: `dir`'s own (at `/name`) and the MapLibre and PMTiles bundles from
/// `dir/node_modules/*/dist` (at `/vendor/name`). Missing files are reported and skipped:
/// the API and tiles work without the web map.
fn read_files(dir: &Path) -> Vec<(String, PathBuf, Vec<u8>)> {
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_file() && !name.starts_with('.') && !name.starts_with("package") {
                paths.push((format!("/{name}"), path));
            }
        }
    }
    let modules = dir.join("node_modules");
    for (package, name) in [
        ("maplibre-gl", "maplibre-gl.js"),
        ("maplibre-gl", "maplibre-gl.css"),
        // Reads PMTiles archives on a CDN by range requests (`pmtiles://` sources).
        ("pmtiles", "pmtiles.js"),
    ] {
        paths.push((
            format!("/vendor/{name}"),
            modules.join(package).join("dist").join(name),
        ));
    }
    paths
        .into_iter()
        .filter_map(|(url, path)| match std::fs::read(&path) {
            Ok(bytes) => Some((url, path, bytes)),
            Err(e) => {
                tracing::warn!(file = %path.display(), "web map file not served: {e}");
                None
            }
        })
        .collect()
}

/// Our own text files (the page, scripts, styles) with every reference to another file
/// pointed at its hashed URL: `"/app.js"`, `'/app.js'`, and `./name` between files of
/// the top directory.
fn rewrite(url: &str, text: &str, hashed: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (plain, hashed) in hashed {
        if plain == url {
            continue;
        }
        for q in ['"', '\''] {
            out = out.replace(&format!("{q}{plain}{q}"), &format!("{q}{hashed}{q}"));
            if plain.matches('/').count() == 1 && url.matches('/').count() == 1 {
                out = out.replace(&format!("{q}.{plain}{q}"), &format!("{q}.{hashed}{q}"));
            }
        }
    }
    out
}

/// Puts our own stylesheets into the page itself (`<style>`), so the first paint waits for
/// no request (Lighthouse found `style.css` the one render-blocking file left); returns
/// each one's CSP hash source. MapLibre's stylesheet stays linked: the map needs it only
/// once its script runs.
fn inline_own_styles(
    contents: &mut HashMap<String, Vec<u8>>,
    hashed: &HashMap<String, String>,
) -> Vec<String> {
    use base64::Engine;
    use sha2::Digest;
    let mut sources = Vec::new();
    let own_css: Vec<(String, String)> = hashed
        .iter()
        .filter(|(plain, _)| plain.ends_with(".css") && !plain.starts_with("/vendor/"))
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect();
    for (plain, url) in own_css {
        let (Some(css), Some(page)) = (contents.get(&plain), contents.get(PAGE)) else {
            continue;
        };
        let css = String::from_utf8_lossy(css).into_owned();
        let page = String::from_utf8_lossy(page).into_owned();
        let link = format!("<link rel=\"stylesheet\" href=\"{url}\">");
        if !page.contains(&link) {
            continue;
        }
        let digest = sha2::Sha256::digest(css.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        sources.push(format!("'sha256-{b64}'"));
        let page = page.replace(&link, &format!("<style>{css}</style>"));
        contents.insert(PAGE.to_string(), page.into_bytes());
    }
    sources
}

fn is_own_text(url: &str) -> bool {
    !url.starts_with("/vendor/")
        && [".html", ".js", ".css", ".json", ".webmanifest"]
            .iter()
            .any(|ext| url.ends_with(ext))
}

impl WebFiles {
    /// Reads the files, gives each but the page its hashed URL and rewrites the references.
    ///
    /// 1. Hash every file as read.
    /// 2. Rewrite our own text files to the hashed URLs, and hash them again: a script
    ///    that imports another changes when the other does. Repeat until no hash moves
    ///    (references form no cycle, so this ends within as many rounds as files).
    pub fn load(dir: &Path) -> WebFiles {
        let files = read_files(dir);
        let mut hashed: HashMap<String, String> = HashMap::new();
        let mut contents: HashMap<String, Vec<u8>> = HashMap::new();
        for (url, _, bytes) in &files {
            if !UNHASHED.contains(&url.as_str()) {
                hashed.insert(url.clone(), hashed_url(url, &content_hash(bytes)));
            }
            contents.insert(url.clone(), bytes.clone());
        }
        for _ in 0..=files.len() {
            let mut moved = false;
            for (url, _, bytes) in &files {
                if !is_own_text(url) {
                    continue;
                }
                let text = rewrite(url, &String::from_utf8_lossy(bytes), &hashed);
                if !UNHASHED.contains(&url.as_str()) {
                    let new = hashed_url(url, &content_hash(text.as_bytes()));
                    moved |= hashed.get(url) != Some(&new);
                    hashed.insert(url.clone(), new);
                }
                contents.insert(url.clone(), text.into_bytes());
            }
            if !moved {
                break;
            }
        }
        let inline_styles = inline_own_styles(&mut contents, &hashed);
        let mut served = HashMap::new();
        for (url, path, _) in files {
            let bytes = contents.remove(&url).unwrap_or_default();
            let file = Arc::new(WebFile::new(content_type(&path), bytes.into()));
            if let Some(h) = hashed.get(&url) {
                let immutable = true;
                served.insert(
                    h.clone(),
                    Served {
                        file: file.clone(),
                        immutable,
                    },
                );
            }
            served.insert(
                url,
                Served {
                    file,
                    immutable: false,
                },
            );
        }
        if !served.contains_key("/vendor/maplibre-gl.js") {
            tracing::warn!("MapLibre is missing: run `make run` (it runs npm ci in web/)");
        }
        let web = WebFiles {
            served,
            inline_styles,
        };
        web.compress_in_background();
        web
    }

    /// Compresses every file both ways on a thread of its own, so no visitor waits for it.
    fn compress_in_background(&self) {
        // The plain and hashed URLs share one file: compressed once.
        let files: Vec<Arc<WebFile>> = self
            .served
            .values()
            .filter(|s| s.immutable && s.file.compressible)
            .map(|s| s.file.clone())
            .collect();
        let _ = std::thread::Builder::new()
            .name("web-compress".into())
            .spawn(move || {
                for f in &files {
                    f.brotli();
                    f.gzip();
                }
            });
    }

    /// The CSP sources (`'sha256-…'`) of the stylesheets inlined into the page.
    pub fn inline_style_sources(&self) -> &[String] {
        &self.inline_styles
    }

    /// The hashed URL a file is served at.
    #[cfg(test)]
    fn hashed_url(&self, plain: &str) -> Option<String> {
        let file = &self.served.get(plain)?.file;
        self.served
            .iter()
            .find(|(_, s)| s.immutable && Arc::ptr_eq(&s.file, file))
            .map(|(url, _)| url.clone())
    }

    /// The file at `path` as `headers` ask for it: 304 when the client has it, else
    /// compressed as it accepts.
    pub fn get(&self, path: &str, headers: &HeaderMap) -> Option<Response> {
        let path = if path == "/" { PAGE } else { path };
        let Served { file, immutable } = self.served.get(path)?;
        let mut resp = Response::new(Default::default());
        let h = resp.headers_mut();
        let cache = if *immutable { IMMUTABLE } else { "no-cache" };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        if let Ok(v) = HeaderValue::from_str(&file.etag) {
            h.insert(header::ETAG, v);
        }
        let has_it = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == file.etag || t.trim() == "*");
        if has_it {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            return Some(resp);
        }
        h.insert(header::CONTENT_TYPE, file.content_type.clone());
        let (body, encoding) = match best_encoding(headers) {
            Some(Encoding::Brotli) if file.compressible => (file.brotli().clone(), Some("br")),
            Some(_) if file.compressible => (file.gzip().clone(), Some("gzip")),
            _ => (file.raw.clone(), None),
        };
        if let Some(e) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        *resp.body_mut() = body.into();
        Some(resp)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
}

/// Brotli if the client takes it, else gzip, else none.
fn best_encoding(headers: &HeaderMap) -> Option<Encoding> {
    if accepts(headers, "br") {
        Some(Encoding::Brotli)
    } else if accepts(headers, "gzip") {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_by_extension() {
        let ct = |name: &str| content_type(Path::new(name)).to_str().unwrap().to_string();
        assert_eq!(ct("index.html"), "text/html; charset=utf-8");
        assert_eq!(ct("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(ct("maplibre-gl.css"), "text/css; charset=utf-8");
        assert_eq!(ct("style.json"), "application/json");
        assert_eq!(ct("logo.svg"), "image/svg+xml");
        assert_eq!(ct("README"), "application/octet-stream");
    }

    #[test]
    fn hashed_urls_keep_the_extension() {
        assert_eq!(hashed_url("/app.js", "ab"), "/app.ab.js");
        assert_eq!(
            hashed_url("/vendor/maplibre-gl.css", "ab"),
            "/vendor/maplibre-gl.ab.css"
        );
        assert_eq!(hashed_url("/v.d/README", "ab"), "/v.d/README.ab");
    }

    #[test]
    fn encodings_follow_accept_encoding() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            best_encoding(&h)
        };
        assert_eq!(with("gzip, deflate, br"), Some(Encoding::Brotli));
        assert_eq!(with("gzip, deflate"), Some(Encoding::Gzip));
        assert_eq!(with("br;q=0, gzip"), Some(Encoding::Gzip));
        assert_eq!(with("identity"), None);
        assert_eq!(best_encoding(&HeaderMap::new()), None);
    }

    /// A script that imports another gets a new URL when the other changes, and the page
    /// links the new one.
    #[test]
    fn a_changed_import_changes_its_importer_url() {
        let dir = std::env::temp_dir().join(format!("sahel-web-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write(
            "index.html",
            "<script type=\"module\" src=\"/app.js\"></script>",
        );
        write("app.js", "import { x } from './lib.js';\nconsole.log(x);");
        write("lib.js", "export const x = 1;");
        let first = WebFiles::load(&dir);
        write("lib.js", "export const x = 2;");
        let second = WebFiles::load(&dir);
        let (a1, a2) = (
            first.hashed_url("/app.js").unwrap(),
            second.hashed_url("/app.js").unwrap(),
        );
        assert_ne!(a1, a2);
        let page = second.served[PAGE].file.raw.clone();
        assert!(String::from_utf8_lossy(&page).contains(&a2));
        let app = second.served[&a2].file.raw.clone();
        let lib = second.hashed_url("/lib.js").unwrap();
        assert!(String::from_utf8_lossy(&app).contains(&format!("'.{lib}'")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
