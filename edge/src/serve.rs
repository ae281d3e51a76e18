//! The live page for field demos: a small HTTP server on its own threads that shows the
//! annotated camera stream (MJPEG) and the latest readings. It binds 127.0.0.1 unless told
//! otherwise, reads at most 8 KiB of request headers and serves a bounded number of clients.
//!
//! Routes: `/` (the page), `/stream.mjpg`, `/frame.jpg`, `/latest.json`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::{Error, Result};

/// Largest request head accepted.
const MAX_REQUEST: usize = 8 << 10;
/// Clients served at once; more are answered 503.
const MAX_CLIENTS: usize = 16;

/// The latest frame and readings, shared between the reading loop and the clients.
#[derive(Default)]
struct Latest {
    /// Increases with every published frame.
    serial: u64,
    jpeg: Arc<Vec<u8>>,
    json: Arc<String>,
}

/// A running live page; publish frames into it.
#[derive(Clone)]
pub struct LivePage {
    state: Arc<(Mutex<Latest>, Condvar)>,
    addr: SocketAddr,
}

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
    /// Binds `addr` and serves the page from background threads.
    pub fn start(addr: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| Error::source(addr.to_string(), format!("cannot serve here ({e})")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::source(addr.to_string(), e.to_string()))?;
        let page = LivePage {
            state: Arc::new((Mutex::new(Latest::default()), Condvar::new())),
            addr,
        };
        let served = page.clone();
        let clients = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if clients.load(Ordering::SeqCst) >= MAX_CLIENTS {
                    let _ = respond(&stream, "503 Service Unavailable", "text/plain", b"busy\n");
                    continue;
                }
                clients.fetch_add(1, Ordering::SeqCst);
                let (page, clients) = (served.clone(), clients.clone());
                std::thread::spawn(move || {
                    if let Err(e) = page.handle(stream) {
                        tracing::debug!("live page client: {e}");
                    }
                    clients.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(page)
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Publishes an annotated frame (JPEG) and its report (JSON).
    pub fn publish(&self, jpeg: Vec<u8>, json: String) {
        let (lock, wake) = &*self.state;
        if let Ok(mut latest) = lock.lock() {
            latest.serial += 1;
            latest.jpeg = Arc::new(jpeg);
            latest.json = Arc::new(json);
            wake.notify_all();
        }
    }

    fn latest(&self) -> (u64, Arc<Vec<u8>>, Arc<String>) {
        let (lock, _) = &*self.state;
        match lock.lock() {
            Ok(l) => (l.serial, l.jpeg.clone(), l.json.clone()),
            Err(_) => (0, Arc::default(), Arc::default()),
        }
    }

    /// Waits until a frame newer than `seen` is published, or `timeout` passes.
    fn wait_newer(&self, seen: u64, timeout: Duration) -> (u64, Arc<Vec<u8>>) {
        let (lock, wake) = &*self.state;
        let Ok(guard) = lock.lock() else {
            return (seen, Arc::default());
        };
        match wake.wait_timeout_while(guard, timeout, |l| l.serial <= seen) {
            Ok((l, _)) => (l.serial, l.jpeg.clone()),
            Err(_) => (seen, Arc::default()),
        }
    }

    fn handle(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let Some((method, path)) = read_request(&stream)? else {
            respond(
                &stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request too large\n",
            )?;
            // Let the client finish sending before closing, so it reads the answer, not a reset.
            stream.shutdown(std::net::Shutdown::Write)?;
            let _ = std::io::copy(&mut (&stream).take(1 << 20), &mut std::io::sink());
            return Ok(());
        };
        if method != "GET" {
            return respond(
                &stream,
                "405 Method Not Allowed",
                "text/plain",
                b"GET only\n",
            );
        }
        let path = path.split('?').next().unwrap_or("/");
        match path {
            "/" | "/index.html" => respond(
                &stream,
                "200 OK",
                "text/html; charset=utf-8",
                PAGE.as_bytes(),
            ),
            "/latest.json" => {
                let (_, _, json) = self.latest();
                let body = if json.is_empty() {
                    "null"
                } else {
                    json.as_str()
                };
                respond(&stream, "200 OK", "application/json", body.as_bytes())
            }
            "/frame.jpg" => {
                let (_, jpeg, _) = self.latest();
                if jpeg.is_empty() {
                    respond(
                        &stream,
                        "503 Service Unavailable",
                        "text/plain",
                        b"no frame yet\n",
                    )
                } else {
                    respond(&stream, "200 OK", "image/jpeg", &jpeg)
                }
            }
            "/stream.mjpg" => self.stream(stream),
            _ => respond(&stream, "404 Not Found", "text/plain", b"not found\n"),
        }
    }

    fn stream(&self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        )?;
        let mut seen = 0;
        loop {
            let (serial, jpeg) = self.wait_newer(seen, Duration::from_secs(2));
            if serial == seen || jpeg.is_empty() {
                // Nothing new: send the last frame again now and then so the client stays alive.
                let (s, j, _) = self.latest();
                if j.is_empty() {
                    continue;
                }
                write_part(&mut stream, &j)?;
                seen = s;
                continue;
            }
            write_part(&mut stream, &jpeg)?;
            seen = serial;
        }
    }
}

fn write_part(stream: &mut TcpStream, jpeg: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    )?;
    stream.write_all(jpeg)?;
    stream.write_all(b"\r\n")?;
    stream.flush()
}

/// Reads the request head; `None` when it is larger than [`MAX_REQUEST`].
fn read_request(stream: &TcpStream) -> std::io::Result<Option<(String, String)>> {
    let mut reader = BufReader::new(stream.take(MAX_REQUEST as u64 + 1));
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut total = first.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        total += n;
        if total > MAX_REQUEST {
            return Ok(None);
        }
        if n == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    Ok(Some((method, path)))
}

fn respond(
    mut stream: &TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
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

    fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
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
        assert!(get(addr, &huge).starts_with("HTTP/1.1 431"));
    }

    #[test]
    fn a_port_alone_binds_loopback() {
        assert_eq!(parse_addr("8080").unwrap().to_string(), "127.0.0.1:8080");
        assert!(parse_addr("0.0.0.0:9000").unwrap().ip().is_unspecified());
        assert!(parse_addr("not an address").is_err());
    }
}
