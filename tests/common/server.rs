//! A real HTTP/1.1 server on 127.0.0.1 for the checker's tests, written
//! on raw TCP so that faults can be exact: a body cut short of its
//! `Content-Length`, a server that never answers, a trickle, a 2 GB
//! declaration. It runs on its own thread and runtime (the code under test
//! starts its own), logs every request with its arrival time, and routes
//! by `Host` header and path.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the server answers one route.
#[derive(Clone)]
pub enum Reply {
    /// 200 with a body and content type.
    Ok(&'static str, Vec<u8>),
    /// A bare status code.
    Status(u16),
    /// `n` answers with `status` (and optional Retry-After), then `then`.
    FailFirst {
        n: usize,
        status: u16,
        retry_after: Option<&'static str>,
        then: Box<Reply>,
    },
    /// 405 to HEAD, `then` to GET.
    NoHead(Box<Reply>),
    /// 302 to a location.
    Redirect(String),
    /// Declares `declared` bytes, sends `body`, closes.
    Short { declared: usize, body: Vec<u8> },
    /// Reads the request and never answers.
    Hang,
    /// Sends headers, then one byte every `interval` for `total` bytes.
    Trickle { total: usize, interval: Duration },
    /// Declares a huge body, sends a few bytes and waits.
    Huge { declared: u64 },
    /// 200 with an `ETag`; 304 when the request's `If-None-Match` matches.
    Tagged {
        etag: &'static str,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// 200 with `body` sent as is under `Content-Encoding: encoding`
    /// (build it with [`gzip`] or [`gzip_zeros`]).
    Encoded {
        encoding: &'static str,
        content_type: &'static str,
        body: Arc<Vec<u8>>,
    },
    /// 200 with the whole `Content-Length`, sent `chunk` bytes at a time.
    Slow {
        body: Arc<Vec<u8>>,
        chunk: usize,
        interval: Duration,
    },
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub host: String,
    pub path: String,
    pub at: Instant,
    pub headers: Vec<(String, String)>,
}

type Routes = HashMap<(String, String), (Reply, Arc<AtomicUsize>)>;

pub struct TestServer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Hit>>>,
    routes: Arc<Mutex<Routes>>,
    bytes_sent: Arc<AtomicUsize>,
}

impl TestServer {
    /// Starts the server on a free port of 127.0.0.1.
    pub fn start() -> TestServer {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let bytes_sent = Arc::new(AtomicUsize::new(0));
        let (l, r, b) = (log.clone(), routes.clone(), bytes_sent.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (l, r, b) = (l.clone(), r.clone(), b.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, l, r, b).await;
                    });
                }
            });
        });
        TestServer {
            addr,
            log,
            routes,
            bytes_sent,
        }
    }

    /// Routes `path` on any host name given to [`Self::route_on`]'s default.
    pub fn route(&self, path: &str, reply: Reply) {
        self.route_on("*", path, reply);
    }

    /// Routes `path` for requests whose `Host` is `host` (`*` for any).
    pub fn route_on(&self, host: &str, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(
            (host.to_string(), path.to_string()),
            (reply, Arc::new(AtomicUsize::new(0))),
        );
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().clone()
    }

    pub fn hits_on(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }

    /// Body bytes the server has written so far.
    pub fn body_bytes_sent(&self) -> usize {
        self.bytes_sent.load(Ordering::SeqCst)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

async fn serve(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<Hit>>>,
    routes: Arc<Mutex<Routes>>,
    sent: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let host = headers
        .iter()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.split(':').next().unwrap_or("").to_string())
        .unwrap_or_default();
    let if_none_match = headers
        .iter()
        .find(|(k, _)| k == "if-none-match")
        .map(|(_, v)| v.clone());
    log.lock().unwrap().push(Hit {
        method: method.clone(),
        host: host.clone(),
        path: path.clone(),
        at: Instant::now(),
        headers,
    });
    let route = {
        let routes = routes.lock().unwrap();
        routes
            .get(&(host.clone(), path.clone()))
            .or_else(|| routes.get(&("*".to_string(), path.clone())))
            .cloned()
    };
    let Some((reply, count)) = route else {
        return respond(&mut stream, 404, &[], b"not found", &method, &sent).await;
    };
    let n = count.fetch_add(1, Ordering::SeqCst);
    let mut reply = reply;
    loop {
        match reply {
            Reply::FailFirst {
                n: fails,
                status,
                retry_after,
                then,
            } => {
                if n < fails {
                    let extra: Vec<(&str, &str)> = retry_after
                        .map(|r| ("Retry-After", r))
                        .into_iter()
                        .collect();
                    return respond(&mut stream, status, &extra, b"try later", &method, &sent)
                        .await;
                }
                reply = *then;
            }
            Reply::NoHead(then) => {
                if method == "HEAD" {
                    return respond(&mut stream, 405, &[], b"", &method, &sent).await;
                }
                reply = *then;
            }
            Reply::Ok(ct, body) => {
                return respond(
                    &mut stream,
                    200,
                    &[("Content-Type", ct)],
                    &body,
                    &method,
                    &sent,
                )
                .await
            }
            Reply::Status(code) => {
                return respond(&mut stream, code, &[], b"status", &method, &sent).await
            }
            Reply::Redirect(to) => {
                return respond(
                    &mut stream,
                    302,
                    &[("Location", to.as_str())],
                    b"",
                    &method,
                    &sent,
                )
                .await
            }
            Reply::Short { declared, body } => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body).await?;
                sent.fetch_add(body.len(), Ordering::SeqCst);
                return stream.shutdown().await;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(120)).await;
                return Ok(());
            }
            Reply::Trickle { total, interval } => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
                for _ in 0..total {
                    tokio::time::sleep(interval).await;
                    stream.write_all(&[0xFF]).await?;
                    sent.fetch_add(1, Ordering::SeqCst);
                }
                return Ok(());
            }
            Reply::Tagged {
                etag,
                content_type,
                body,
            } => {
                if if_none_match.as_deref() == Some(etag) {
                    // A 304 has no body: respond as to a HEAD.
                    return respond(&mut stream, 304, &[("ETag", etag)], b"", "HEAD", &sent).await;
                }
                let headers = [("ETag", etag), ("Content-Type", content_type)];
                return respond(&mut stream, 200, &headers, &body, &method, &sent).await;
            }
            Reply::Encoded {
                encoding,
                content_type,
                body,
            } => {
                let headers = [
                    ("Content-Encoding", encoding),
                    ("Content-Type", content_type),
                ];
                return respond(&mut stream, 200, &headers, &body, &method, &sent).await;
            }
            Reply::Slow {
                body,
                chunk,
                interval,
            } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await?;
                for part in body.chunks(chunk) {
                    stream.write_all(part).await?;
                    sent.fetch_add(part.len(), Ordering::SeqCst);
                    tokio::time::sleep(interval).await;
                }
                return stream.shutdown().await;
            }
            Reply::Huge { declared } => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
                // Write as fast as the client reads, up to 64 MiB; a client
                // that honours its size limit reads none of it.
                let block = vec![0u8; 64 * 1024];
                for _ in 0..1024 {
                    if stream.write_all(&block).await.is_err() {
                        return Ok(());
                    }
                    sent.fetch_add(block.len(), Ordering::SeqCst);
                }
                return Ok(());
            }
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    code: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    method: &str,
    sent: &AtomicUsize,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(body).await?;
        sent.fetch_add(body.len(), Ordering::SeqCst);
    }
    stream.shutdown().await
}

/// A small but complete JPEG-shaped body (SOI … EOI), distinct per `seed`.
pub fn jpeg(seed: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0];
    v.extend(std::iter::repeat_n(seed, 2000));
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// A complete PNG-shaped body (signature … IEND).
pub fn png() -> Vec<u8> {
    let mut v =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec();
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(b"IEND");
    v.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
    v
}

/// A valid JPEG of about 4 MB sent in 16 KiB chunks 82 ms apart (245
/// chunks, about 20 s): longer than any grace period a test sets. Returns
/// the reply and the body's length.
pub fn twenty_second_jpeg(seed: u8) -> (Reply, usize) {
    let mut big = jpeg(seed);
    big.truncate(big.len() - 2);
    big.extend(std::iter::repeat_n(7u8, 4_000_000));
    big.extend_from_slice(&[0xFF, 0xD9]);
    let len = big.len();
    let reply = Reply::Slow {
        body: Arc::new(big),
        chunk: 16 * 1024,
        interval: Duration::from_millis(82),
    };
    (reply, len)
}

/// `bytes`, gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `n` zero bytes, gzip-compressed (about `n / 1000` bytes): a
/// compression bomb.
pub fn gzip_zeros(n: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len());
        enc.write_all(&block[..take]).unwrap();
        left -= take;
    }
    enc.finish().unwrap()
}

/// The image seed 000's exploded URL spells, on news.nankai.edu.cn.
pub const NANKAI_REBUILT: &str = "/pic/003/000/452/00300045245_41d76565.jpg";
/// The three images of seed 001.
pub const NANKAI_IMAGES_001: [&str; 3] = [
    "/pic/003/000/281/00300028124_be763227.jpg",
    "/pic/003/000/281/00300028123_a14c06f8.jpg",
    "/pic/003/000/281/00300028122_dd2682a4.jpg",
];

/// A server that plays news.nankai.edu.cn for the seeds: the source pages
/// of seeds 000 and 001 (naming their real images) and the images.
pub fn nankai() -> TestServer {
    let s = TestServer::start();
    let page = |imgs: &[&str]| {
        let tags: String = imgs
            .iter()
            .map(|i| format!("<p><img src=\"{i}\"></p>\n"))
            .collect();
        format!("<!DOCTYPE html><html><head><title>南开新闻网</title></head><body>\n{tags}</body></html>").into_bytes()
    };
    s.route(
        "/ywsd/system/2022/03/25/030050717.shtml",
        Reply::Ok("text/html; charset=utf-8", page(&[NANKAI_REBUILT])),
    );
    s.route(
        "/ywsd/system/2019/11/13/030036368.shtml",
        Reply::Ok("text/html; charset=utf-8", page(&NANKAI_IMAGES_001)),
    );
    s.route(NANKAI_REBUILT, Reply::Ok("image/jpeg", jpeg(9)));
    for (i, p) in NANKAI_IMAGES_001.iter().enumerate() {
        s.route(p, Reply::Ok("image/jpeg", jpeg(i as u8)));
    }
    s
}
