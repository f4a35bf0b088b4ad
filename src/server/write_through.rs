//! `AsyncWrite` handed through to a wrapped stream, for the connection
//! wrappers that change only what is read or when the socket is let go.

/// The methods of `impl AsyncWrite for Wrapper`, each calling the same
/// method of the field `$field` (flush, shutdown and vectored writes
/// included, so the wrapper writes exactly as the stream would).
macro_rules! write_through {
    ($field:ident) => {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            tokio::io::AsyncWrite::poll_write(std::pin::Pin::new(&mut self.$field), cx, buf)
        }

        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            tokio::io::AsyncWrite::poll_flush(std::pin::Pin::new(&mut self.$field), cx)
        }

        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            tokio::io::AsyncWrite::poll_shutdown(std::pin::Pin::new(&mut self.$field), cx)
        }

        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let inner = std::pin::Pin::new(&mut self.$field);
            tokio::io::AsyncWrite::poll_write_vectored(inner, cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            tokio::io::AsyncWrite::is_write_vectored(&self.$field)
        }
    };
}

pub(super) use write_through;
