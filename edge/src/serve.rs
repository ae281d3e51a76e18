//! The live page for field demos: hyper's HTTP/1 server on a one-thread tokio runtime of its
//! own, showing the annotated camera stream (MJPEG) and the latest readings. It binds
//! 127.0.0.1 unless told otherwise. A stranger on the network cannot stall it: the whole
//! request head must arrive within [`HEAD_DEADLINE`] and fit in 8 KiB (else 431; malformed
//! heads get 400), every connection is served by a task that costs nothing while it waits,
//! stream viewers have their own cap ([`MAX_VIEWERS`]) so they never crowd out the readings,
//! and a viewer that stops reading is dropped after [`STALLED_VIEWER`].
//!
//! Routes: `/` (the page), `/stream.mjpg`, `/frame.jpg`, `/latest.json`.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::{Error, Result};

/// Time a client has to send its whole request head (slow-drip clients are cut off).
pub const HEAD_DEADLINE: Duration = Duration::from_secs(3);
/// Largest request head accepted (hyper's smallest read buffer).
const MAX_REQUEST: usize = 8 << 10;
/// Connections served at once; more are closed on arrival.
const MAX_CONNECTIONS: usize = 256;
/// Stream viewers served at once; more are answered 503.
pub const MAX_VIEWERS: usize = 8;
/// Time a viewer has to take one frame before it is dropped.
pub const STALLED_VIEWER: Duration = Duration::from_secs(10);
/// A viewer is sent the last frame again after this long without a new one.
const RESEND: Duration = Duration::from_secs(2);

/// The latest frame and readings, shared between the reading loop and the clients.
#[derive(Clone, Default)]
struct Latest {
    jpeg: Bytes,
    json: Bytes,
}

/// A running live page; publish frames into it.
#[derive(Clone)]
pub struct LivePage {
    latest: Arc<watch::Sender<Latest>>,
    addr: SocketAddr,
}

type Answer = Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>;

/// Parses `ADDR`: a port alone binds 127.0.0.1, `HOST:PORT` binds that host.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    let with_host = if text.parse::<u16>().is_ok() {
        format!("127.0.0.1:{text}")
    } else {
        text.to_string()
    };
    with_host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::source(text, "not an address to serve on (PORT or HOST:PORT)"))
}

impl LivePage {
    /// Binds `addr` and serves the page from a background thread.
    pub fn start(addr: SocketAddr) -> Result<Self> {
        let bad =
            |e: std::io::Error| Error::source(addr.to_string(), format!("cannot serve here ({e})"));
        let listener = TcpListener::bind(addr).map_err(bad)?;
        listener.set_nonblocking(true).map_err(bad)?;
        let addr = listener.local_addr().map_err(bad)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(bad)?;
        let (latest, _) = watch::channel(Latest::default());
        let page = LivePage {
            latest: Arc::new(latest),
            addr,
        };
        let served = page.clone();
        std::thread::Builder::new()
            .name("live-page".into())
            .spawn(move || runtime.block_on(served.accept(listener)))
            .map_err(bad)?;
        Ok(page)
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Publishes an annotated frame (JPEG) and its report (JSON).
    pub fn publish(&self, jpeg: Vec<u8>, json: String) {
        self.latest.send_replace(Latest {
            jpeg: Bytes::from(jpeg),
            json: Bytes::from(json),
        });
    }

    async fn accept(self, listener: TcpListener) {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("live page on {}: {e}", self.addr);
                return;
            }
        };
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let viewers = Arc::new(Semaphore::new(MAX_VIEWERS));
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::debug!("live page accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = connections.clone().try_acquire_owned() else {
                continue;
            };
            let (page, viewers) = (self.clone(), viewers.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (page, viewers) = (page.clone(), viewers.clone());
                    async move { Ok::<_, Infallible>(page.answer(req, &viewers)) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEAD_DEADLINE)
                    .max_buf_size(MAX_REQUEST)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!("live page client: {e}");
                }
                drop(slot);
            });
        }
    }

    fn answer(&self, req: Request<Incoming>, viewers: &Arc<Semaphore>) -> Answer {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
        }
        let latest = self.latest.borrow().clone();
        match req.uri().path() {
            "/" | "/index.html" => respond(
                StatusCode::OK,
                "text/html; charset=utf-8",
                Bytes::from_static(PAGE.as_bytes()),
            ),
            "/latest.json" => {
                let body = if latest.json.is_empty() {
                    Bytes::from_static(b"null")
                } else {
                    latest.json
                };
                respond(StatusCode::OK, "application/json", body)
            }
            "/frame.jpg" if latest.jpeg.is_empty() => {
                plain(StatusCode::SERVICE_UNAVAILABLE, "no frame yet\n")
            }
            "/frame.jpg" => respond(StatusCode::OK, "image/jpeg", latest.jpeg),
            "/stream.mjpg" => match viewers.clone().try_acquire_owned() {
                Ok(slot) => self.stream(slot),
                Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "too many viewers\n"),
            },
            _ => plain(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// The multipart stream: a task sends each new frame (and the last one again after
    /// [`RESEND`]) to the viewer, holding its viewer slot until the viewer leaves or stalls.
    fn stream(&self, slot: tokio::sync::OwnedSemaphorePermit) -> Answer {
        let (tx, rx) = mpsc::channel::<Bytes>(1);
        let mut latest = self.latest.subscribe();
        tokio::spawn(async move {
            let _slot = slot;
            loop {
                let jpeg = latest.borrow_and_update().jpeg.clone();
                if !jpeg.is_empty() {
                    let sent = tokio::time::timeout(STALLED_VIEWER, tx.send(part(&jpeg))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                // The reading loop ended: so does the stream.
                if let Ok(Err(_)) = tokio::time::timeout(RESEND, latest.changed()).await {
                    return;
                }
            }
        });
        let mut answer = Response::new(Parts(rx).boxed());
        *answer.status_mut() = StatusCode::OK;
        let h = answer.headers_mut();
        h.insert(
            CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("multipart/x-mixed-replace; boundary=frame"),
        );
        h.insert(
            CACHE_CONTROL,
            hyper::header::HeaderValue::from_static("no-store"),
        );
        answer
    }
}

/// A response body of the parts a viewer's task sends.
struct Parts(mpsc::Receiver<Bytes>);

impl Body for Parts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|p| p.map(|b| Ok(Frame::data(b))))
    }
}

/// One part of the multipart stream.
fn part(jpeg: &[u8]) -> Bytes {
    let mut out = format!(
        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    )
    .into_bytes();
    out.extend_from_slice(jpeg);
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Answer {
    let mut answer = Response::new(Full::new(body).boxed());
    *answer.status_mut() = status;
    let h = answer.headers_mut();
    h.insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    h.insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    answer
}

fn plain(status: StatusCode, text: &'static str) -> Answer {
    respond(status, "text/plain", Bytes::from_static(text.as_bytes()))
}

/// The page: the annotated stream and the latest numbers, refreshed twice a second.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mnist-edge live</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1rem; background: #111; color: #eee; }
main { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
img { max-width: 100%; border: 1px solid #444; }
#numbers { font-size: 3rem; font-weight: bold; letter-spacing: .1em; }
#meta { color: #aaa; font-size: .9rem; }
</style></head>
<body><h1>mnist-edge</h1>
<main><img id="stream" src="/stream.mjpg" alt="annotated camera stream">
<section><div>Numbers read</div><div id="numbers">…</div><div id="meta"></div></section></main>
<script>
async function refresh() {
  try {
    const r = await fetch('/latest.json', {cache: 'no-store'});
    const f = await r.json();
    if (f) {
      document.getElementById('numbers').textContent = f.numbers.length ? f.numbers.join(' ') : '—';
      document.getElementById('meta').textContent =
        `${f.source} frame ${f.frame}: ${f.digits.length} digits, ${f.timings_ms.total.toFixed(2)} ms`;
    }
  } catch (e) { document.getElementById('meta').textContent = 'waiting for the reader…'; }
}
refresh(); setInterval(refresh, 500);
</script></body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    /// Sends `request` and reads the answer, giving up after 3 s.
    fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn serves_the_latest_readings_and_refuses_what_it_should() {
        let page = LivePage::start(parse_addr("0").unwrap()).unwrap();
        assert!(page.addr().ip().is_loopback());
        let addr = page.addr();
        assert!(get(addr, b"GET /latest.json HTTP/1.1\r\n\r\n").ends_with("null"));
        page.publish(vec![0xFF, 0xD8, 0xFF, 0xD9], r#"{"numbers":["42"]}"#.into());
        assert!(get(addr, b"GET /latest.json HTTP/1.1\r\n\r\n").contains(r#""42""#));
        assert!(get(addr, b"GET / HTTP/1.1\r\n\r\n").contains("/stream.mjpg"));
        assert!(get(addr, b"GET /frame.jpg HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200"));
        assert!(get(addr, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get(addr, b"POST / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..400 {
            huge.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        huge.extend_from_slice(b"\r\n");
        assert!(
            get(addr, &huge).starts_with("HTTP/1.1 431"),
            "{}",
            get(addr, &huge)
        );
    }

    #[test]
    fn issue15_malformed_requests_get_400() {
        let page = LivePage::start(parse_addr("0").unwrap()).unwrap();
        for bad in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET /\xff\xfe HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        ] {
            let answer = get(page.addr(), bad);
            assert!(answer.starts_with("HTTP/1.1 400"), "{bad:?}: {answer:?}");
        }
    }

    #[test]
    fn issue15_slow_drip_clients_do_not_lock_out_the_readings() {
        let page = LivePage::start(parse_addr("0").unwrap()).unwrap();
        page.publish(vec![0xFF, 0xD8, 0xFF, 0xD9], r#"{"numbers":["7"]}"#.into());
        let addr = page.addr();
        // Sixteen clients dripping a request head a byte at a time, and as many stream
        // viewers as are allowed, none of them reading.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let drips: Vec<_> = (0..16)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    let mut cut = false;
                    for b in b"GET /latest.json HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa"
                        .iter()
                        .cycle()
                    {
                        if stop.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        if s.write_all(&[*b]).is_err() {
                            cut = true;
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    cut
                })
            })
            .collect();
        let viewers: Vec<TcpStream> = (0..MAX_VIEWERS)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"GET /stream.mjpg HTTP/1.1\r\n\r\n").unwrap();
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        for _ in 0..5 {
            let t = Instant::now();
            let answer = get(addr, b"GET /latest.json HTTP/1.1\r\n\r\n");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
            assert!(answer.contains(r#""7""#));
            assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        }
        // One viewer more than allowed is told so at once.
        let mut extra = TcpStream::connect(addr).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        extra
            .write_all(b"GET /stream.mjpg HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        extra.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 503");
        // The drippers are cut off once the head's deadline passes.
        std::thread::sleep(HEAD_DEADLINE + Duration::from_secs(1));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let cut = drips
            .into_iter()
            .filter_map(|d| d.join().ok())
            .filter(|&c| c)
            .count();
        assert_eq!(
            cut, 16,
            "dripping clients still connected after the deadline"
        );
        drop(viewers);
    }

    #[test]
    fn a_port_alone_binds_loopback() {
        assert_eq!(parse_addr("8080").unwrap().to_string(), "127.0.0.1:8080");
        assert!(parse_addr("0.0.0.0:9000").unwrap().ip().is_unspecified());
        assert!(parse_addr("not an address").is_err());
    }

    mod fuzz {
        //! Property tests of the live page's request handling (issue 15): any bytes a
        //! stranger sends get an HTTP answer or a closed connection, and the page goes on
        //! answering others.
        use super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpStream};

        fn request() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                vec(any::<u8>(), 0..512),
                (
                    "[A-Z]{0,8}",
                    "[ -~]{0,40}",
                    "(HTTP/1\\.[01]|[ -~]{0,9})",
                    vec("[ -~]{0,30}", 0..6)
                )
                    .prop_map(|(m, path, v, headers)| {
                        let mut r = format!("{m} {path} {v}\r\n");
                        for h in headers {
                            r.push_str(&h);
                            r.push_str("\r\n");
                        }
                        r.push_str("\r\n");
                        r.into_bytes()
                    }),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(crate::capture::fuzz_cases(48)))]

            #[test]
            fn issue15_fuzz_http_request_heads(req in request()) {
                static PAGE: std::sync::OnceLock<LivePage> = std::sync::OnceLock::new();
                let page = PAGE.get_or_init(|| LivePage::start(parse_addr("0").unwrap()).unwrap());
                let addr = page.addr();
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = s.write_all(&req);
                let _ = s.shutdown(Shutdown::Write);
                let mut out = vec![0u8; 16];
                let n = s.read(&mut out).unwrap_or(0);
                prop_assert!(n == 0 || out.starts_with(b"HTTP/1."), "{:?}", &out[..n]);
                drop(s);
                // The page still answers.
                let answer = get(addr, b"GET /latest.json HTTP/1.1\r\n\r\n");
                prop_assert!(answer.starts_with("HTTP/1.1 200"), "{}", answer);
            }
        }
    }
}
