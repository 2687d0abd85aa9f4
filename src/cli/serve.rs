//! `sketch-rnn serve`: a small static server for the browser app.
//!
//! Routes: `/pkg/…` from the wasm-bindgen output folder, `/local-models/…` from
//! `--models DIR` when given, everything else from the `www/` folder. Only GET
//! and HEAD; paths are confined to their folder. Every response carries the
//! Content-Security-Policy the app is built for, and `.wasm` is served as
//! `application/wasm` so the browser can compile it while streaming.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use tiny_http::{Header, Method, Response, Server, StatusCode};

/// Scripts only from our own origin; wasm compilation allowed. Model files may
/// come from Magenta's bucket or a URL the user types (`connect-src`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self' https:; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// URL prefix of the wasm-bindgen output.
pub const PKG_PREFIX: &str = "/pkg/";
/// URL prefix of the `--models` folder.
pub const LOCAL_MODELS_PREFIX: &str = "/local-models/";

/// Folders the server reads from.
pub struct Roots {
    pub www: PathBuf,
    pub pkg: PathBuf,
    pub models: Option<PathBuf>,
}

/// MIME type by extension (the few the app serves).
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "md" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file a URL path names, or `None` when it escapes its folder or the
/// route does not exist.
pub fn resolve(roots: &Roots, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let (root, rest) = if let Some(rest) = path.strip_prefix(PKG_PREFIX) {
        (&roots.pkg, rest)
    } else if let Some(rest) = path.strip_prefix(LOCAL_MODELS_PREFIX) {
        (roots.models.as_ref()?, rest)
    } else {
        (&roots.www, path.trim_start_matches('/'))
    };
    let rest = if rest.is_empty() || rest.ends_with('/') {
        format!("{rest}index.html")
    } else {
        rest.to_string()
    };
    let rel = Path::new(&rest);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel);
    full.is_file().then_some(full)
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

/// Serves until the process is stopped.
pub fn serve(roots: Roots, addr: SocketAddr) -> Result<()> {
    let server = Server::http(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = server.server_addr();
    println!(
        "sketch-rnn app at http://{local}/ (serving {})",
        roots.www.display()
    );
    if let Some(m) = &roots.models {
        println!("local models from {} at {LOCAL_MODELS_PREFIX}", m.display());
    }
    for request in server.incoming_requests() {
        let method = request.method().clone();
        let common = [
            header("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            header("X-Content-Type-Options", "nosniff"),
            header("Cache-Control", "no-cache"),
        ];
        let result = if !matches!(method, Method::Get | Method::Head) {
            let mut r =
                Response::from_string("method not allowed").with_status_code(StatusCode(405));
            for h in common {
                r.add_header(h);
            }
            request.respond(r)
        } else {
            match resolve(&roots, request.url()) {
                Some(path) => match std::fs::read(&path) {
                    Ok(bytes) => {
                        let mut r = Response::from_data(if method == Method::Head {
                            Vec::new()
                        } else {
                            bytes
                        })
                        .with_header(header("Content-Type", content_type(&path)));
                        for h in common {
                            r.add_header(h);
                        }
                        request.respond(r)
                    }
                    Err(e) => {
                        let r = Response::from_string(format!("cannot read file: {e}"))
                            .with_status_code(StatusCode(500));
                        request.respond(r)
                    }
                },
                None => {
                    let mut r =
                        Response::from_string("not found").with_status_code(StatusCode(404));
                    for h in common {
                        r.add_header(h);
                    }
                    request.respond(r)
                }
            }
        };
        if let Err(e) = result {
            eprintln!("response failed: {e}");
        }
    }
    Ok(())
}

/// The `serve` command: folders default to the repository's `www/` and `pkg/`.
pub fn run(www: &Path, pkg: &Path, models: Option<&Path>, addr: SocketAddr) -> Result<()> {
    let check = |p: &Path, what: &str| -> Result<PathBuf> {
        p.canonicalize()
            .with_context(|| format!("{what} folder {} not found", p.display()))
    };
    let pkg = check(pkg, "pkg (run tools/build-wasm.sh)")?;
    if !pkg.join("sketch_rnn_bg.wasm").is_file() {
        anyhow::bail!(
            "{} has no sketch_rnn_bg.wasm: build it with tools/build-wasm.sh",
            pkg.display()
        );
    }
    let roots = Roots {
        www: check(www, "www")?,
        pkg,
        models: models.map(|m| check(m, "models")).transpose()?,
    };
    serve(roots, addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Roots {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Roots {
            www: repo.join("www"),
            pkg: repo.join("www"),
            models: Some(repo.join("www/models")),
        }
    }

    #[test]
    fn paths_cannot_escape_their_folder() {
        let r = roots();
        assert!(resolve(&r, "/").is_some(), "index.html");
        assert!(resolve(&r, "/models/sheep.safetensors").is_some());
        assert!(resolve(&r, "/local-models/sheep.safetensors").is_some());
        assert!(resolve(&r, "/../Cargo.toml").is_none());
        assert!(resolve(&r, "/models/../../Cargo.toml").is_none());
        assert!(resolve(&r, "/local-models/../index.html").is_none());
        assert!(resolve(&r, "/nope.html").is_none());
    }

    #[test]
    fn wasm_is_served_as_application_wasm() {
        assert_eq!(
            content_type(Path::new("a/sketch_rnn_bg.wasm")),
            "application/wasm"
        );
        assert_eq!(
            content_type(Path::new("app.js")),
            "text/javascript; charset=utf-8"
        );
    }
}
