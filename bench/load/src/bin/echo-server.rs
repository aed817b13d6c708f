//! The baseline Beckon is compared with: the smallest useful tokio WebSocket server on the same
//! stack (tokio + tungstenite, the same 4 KiB read buffer and unbuffered writes as Beckon's
//! defaults), which accepts sockets and echoes text frames. Whatever Beckon costs above this per
//! idle session or per message is its own doing; docs/benchmarks.md reports the ratios.
//!
//! `cargo run --release -p beckon-load --bin echo-server -- [ADDR]` (prints "echo listening on URL")

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("echo listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0);
            let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
                return;
            };
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg
                    && ws.send(Message::Text(t)).await.is_err()
                {
                    break;
                }
            }
        });
    }
}
