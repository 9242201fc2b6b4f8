//! A TCP forwarder on 127.0.0.1:0 in front of a database server, so a test
//! can make the server unreachable for the backend (open connections cut, new
//! ones refused) and bring it back, without touching the shared server.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

#[derive(Default)]
struct State {
    cut: bool,
    connections: Vec<AbortHandle>,
}

pub struct Proxy {
    port: u16,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = upstream.to_owned();
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let mut s = state.lock().unwrap();
                    if s.cut {
                        continue; // dropping `inbound` closes it
                    }
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    s.connections.retain(|c| !c.is_finished());
                    s.connections.push(task.abort_handle());
                }
            }
        });
        Proxy {
            port,
            state,
            accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        let mut s = self.state.lock().unwrap();
        s.cut = true;
        for c in s.connections.drain(..) {
            c.abort();
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.state.lock().unwrap().cut = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
