//! Many uploads at once, at most N in flight: [`Client::upload_many`].

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use kie_proto::{Error, UploadOptions, UploadResult};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::client::Client;
use crate::upload::UploadSource;

impl Client {
    /// Uploads every `(source, options)` of `uploads`, at most `concurrency` at once (0 is
    /// taken as 1), and yields `(index, result)` for each as it completes — `index` is the
    /// upload's position in `uploads`. A failed upload does not stop the others; each one
    /// retries on its own under the client's retry policy.
    ///
    /// Each upload runs as its own task on the current tokio runtime, so uploads progress
    /// whether or not the stream is being polled: a slow consumer does not stall them (or
    /// trip their timeouts). They start at once when this is called inside a tokio runtime,
    /// otherwise at the first poll of the stream, which must be polled inside a tokio
    /// runtime. Results that are not read yet wait in the stream (a few hundred bytes each).
    ///
    /// Sources are opened only when their upload starts, so at most `concurrency` files are
    /// open at a time; `uploads` is iterated only as slots free up. Dropping the stream
    /// aborts every upload still running (their files are closed and their requests cut off)
    /// and starts no more. A panic in an upload (a progress callback that panics, say) is
    /// raised again when its result would be read.
    ///
    /// ```
    /// use futures_util::StreamExt as _;
    /// use kie_async::{Client, UploadOptions, UploadSource};
    ///
    /// async fn upload_all(client: &Client, files: Vec<std::path::PathBuf>) -> usize {
    ///     let uploads = files
    ///         .into_iter()
    ///         .map(|path| (UploadSource::path(path), UploadOptions::new("images")));
    ///     let mut results = client.upload_many(uploads, 8);
    ///     let mut stored = 0;
    ///     while let Some((index, result)) = results.next().await {
    ///         match result {
    ///             Ok(uploaded) => { println!("{index}: {}", uploaded.download_url); stored += 1 }
    ///             Err(err) => eprintln!("{index}: {err}"),
    ///         }
    ///     }
    ///     stored
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
    /// # let dir = std::env::temp_dir().join(format!("kie-async-doc-many-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let files: Vec<_> = (0..3).map(|i| { let p = dir.join(format!("{i}.png")); std::fs::write(&p, b"\x89PNG\r\n\x1a\n").unwrap(); p }).collect();
    /// let missing = std::path::PathBuf::from("/no/such/file.png");
    /// assert_eq!(upload_all(&client, files.into_iter().chain([missing]).collect()).await, 3);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), kie_async::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn upload_many<I>(
        &self,
        uploads: I,
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<UploadResult, Error>)> + Send + 'static
    where
        I: IntoIterator<Item = (UploadSource, UploadOptions)>,
        I::IntoIter: Send + 'static,
    {
        let (sender, receiver) = mpsc::unbounded_channel();
        let driver = drive(
            self.clone(),
            uploads.into_iter().enumerate(),
            concurrency.max(1),
            sender,
        );
        let driver = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Driver::Running(runtime.spawn(driver)),
            Err(_) => Driver::NotStarted(Some(Box::pin(driver))),
        };
        UploadMany { driver, receiver }
    }
}

/// One finished upload, or the panic of its task.
type Outcome = Result<(usize, Result<UploadResult, Error>), Box<dyn Any + Send>>;

/// Keeps at most `concurrency` uploads running as tasks of a [`JoinSet`], starting the next
/// one as each finishes, and sends every outcome. Aborting this task drops the set, which
/// aborts every upload in it.
async fn drive(
    client: Client,
    mut uploads: impl Iterator<Item = (usize, (UploadSource, UploadOptions))>,
    concurrency: usize,
    sender: mpsc::UnboundedSender<Outcome>,
) {
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < concurrency {
            let Some((index, (source, options))) = uploads.next() else {
                break;
            };
            let client = client.clone();
            tasks.spawn(async move { (index, client.upload_source(source, &options).await) });
        }
        let outcome = match tasks.join_next().await {
            None => return,
            Some(Ok(done)) => Ok(done),
            Some(Err(err)) => match err.try_into_panic() {
                Ok(panic) => Err(panic),
                // Only this task aborts uploads (by dropping the set), so never seen here.
                Err(_) => continue,
            },
        };
        if sender.send(outcome).is_err() {
            // The stream is gone: dropping the set aborts the rest.
            return;
        }
    }
}

/// The task running [`drive`], started at once inside a runtime, else at the first poll.
enum Driver {
    NotStarted(Option<Pin<Box<dyn Future<Output = ()> + Send>>>),
    Running(JoinHandle<()>),
}

/// The stream of [`Client::upload_many`]. Dropping it aborts the driver task and with it
/// every upload.
struct UploadMany {
    driver: Driver,
    receiver: mpsc::UnboundedReceiver<Outcome>,
}

impl Stream for UploadMany {
    type Item = (usize, Result<UploadResult, Error>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Driver::NotStarted(driver) = &mut this.driver
            && let Some(driver) = driver.take()
        {
            this.driver = Driver::Running(tokio::spawn(driver));
        }
        match this.receiver.poll_recv(cx) {
            Poll::Ready(Some(Ok(done))) => Poll::Ready(Some(done)),
            Poll::Ready(Some(Err(panic))) => std::panic::resume_unwind(panic),
            Poll::Pending => Poll::Pending,
            // Every outcome was read and the driver ended; raise its own panic, if any
            // (from the caller's iterator).
            Poll::Ready(None) => match &mut this.driver {
                Driver::Running(handle) => match Pin::new(handle).poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(())) => Poll::Ready(None),
                    Poll::Ready(Err(err)) => match err.try_into_panic() {
                        Ok(panic) => std::panic::resume_unwind(panic),
                        Err(_) => Poll::Ready(None),
                    },
                },
                Driver::NotStarted(_) => Poll::Ready(None),
            },
        }
    }
}

impl Drop for UploadMany {
    fn drop(&mut self) {
        if let Driver::Running(handle) = &self.driver {
            handle.abort();
        }
    }
}
