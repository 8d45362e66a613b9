//! Many jobs at once, at most N in flight: uploads ([`Client::upload_many`]) and tasks
//! ([`Client::run_many`], [`Client::create_many`], creates paced by the account's window).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use kie_proto::Operation;
use kie_proto::task::{CreateWindow, TaskRef, TaskView, WaitOptions};
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
        let client = self.clone();
        many(
            uploads.into_iter().enumerate(),
            concurrency,
            move |(source, options)| {
                let client = client.clone();
                async move { client.upload_source(source, &options).await }
            },
        )
    }

    /// Runs every task of `tasks` (create, then wait by `options`), at most `concurrency`
    /// at once, and yields `(index, result)` as each finishes — the jobs twin of
    /// [`upload_many`](Self::upload_many). Creates are paced by `window` (the account's 20
    /// per 10 s by default: [`CreateWindow::default`]) so a batch is never refused for
    /// its rate; a failure does not stop the others; a create whose fate is unknown is not
    /// sent again ([`Error::MaybeCreated`]). Dropping the stream stops the waits (the tasks
    /// go on).
    ///
    /// ```
    /// use futures_util::StreamExt as _;
    /// use kie_async::kie_proto::task::{CreateTask, CreateWindow, WaitOptions};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = kie_async::Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// let tasks = (0..3).map(|i| CreateTask::new("google/nano-banana", kie_proto::serde_json::json!({"prompt": format!("cat {i}")})).unwrap());
    /// let mut results = client.run_many(tasks, 2, CreateWindow::default(), WaitOptions::new());
    /// let mut finished = 0;
    /// while let Some((index, view)) = results.next().await {
    ///     println!("{index}: {:?}", view?.status);
    ///     finished += 1;
    /// }
    /// assert_eq!(finished, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn run_many<I>(
        &self,
        tasks: I,
        concurrency: usize,
        window: CreateWindow,
        options: WaitOptions,
    ) -> impl Stream<Item = (usize, Result<TaskView, Error>)> + Send + 'static
    where
        I: IntoIterator,
        I::Item: Operation<Output = TaskRef> + Send + Sync + 'static,
        I::IntoIter: Send + 'static,
    {
        let client = self.clone();
        let pacer = CreatePacer::new(window);
        let options = options.just_created();
        many(
            tasks.into_iter().enumerate(),
            concurrency,
            move |create: I::Item| {
                let (client, pacer, options) = (client.clone(), pacer.clone(), options.clone());
                async move {
                    pacer.admit().await;
                    let task = client.create_task(&create).await?;
                    client.wait_task(&task, &options).await
                }
            },
        )
    }

    /// Creates every task of `tasks`, at most `concurrency` at once, paced by `window`,
    /// and yields `(index, result)` as each create answers.
    pub fn create_many<I>(
        &self,
        tasks: I,
        concurrency: usize,
        window: CreateWindow,
    ) -> impl Stream<Item = (usize, Result<TaskRef, Error>)> + Send + 'static
    where
        I: IntoIterator,
        I::Item: Operation<Output = TaskRef> + Send + Sync + 'static,
        I::IntoIter: Send + 'static,
    {
        let client = self.clone();
        let pacer = CreatePacer::new(window);
        many(
            tasks.into_iter().enumerate(),
            concurrency,
            move |create: I::Item| {
                let (client, pacer) = (client.clone(), pacer.clone());
                async move {
                    pacer.admit().await;
                    client.create_task(&create).await
                }
            },
        )
    }
}

/// Paces creates by a [`CreateWindow`] shared by every clone: [`admit`](Self::admit)
/// returns when one more create may go. For pipelines of your own (upload, create, wait,
/// download per item) that [`run_many`](Client::run_many) does not cover.
///
/// ```
/// use kie_async::CreatePacer;
/// use kie_async::kie_proto::task::CreateWindow;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pacer = CreatePacer::new(CreateWindow::default());
/// pacer.admit().await; // the first of 20 in 10 s: at once
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct CreatePacer(std::sync::Arc<tokio::sync::Mutex<CreateWindow>>);

impl CreatePacer {
    /// A pacer for `window`.
    pub fn new(window: CreateWindow) -> Self {
        CreatePacer(std::sync::Arc::new(tokio::sync::Mutex::new(window)))
    }

    /// Waits until the window admits one more create, and counts it.
    pub async fn admit(&self) {
        loop {
            let admitted = self.0.lock().await.admit(crate::body::now());
            match admitted {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

/// One finished job, or the panic of its task.
type Outcome<T> = Result<(usize, Result<T, Error>), Box<dyn Any + Send>>;

/// Keeps at most `concurrency` jobs running as tasks of a [`JoinSet`], starting the next
/// one (`start(item)`) as each finishes, and sends every outcome. Aborting this task drops
/// the set, which aborts every job in it.
async fn drive<I, T, F, Fut>(
    mut items: impl Iterator<Item = (usize, I)>,
    concurrency: usize,
    sender: mpsc::UnboundedSender<Outcome<T>>,
    start: F,
) where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < concurrency {
            let Some((index, item)) = items.next() else {
                break;
            };
            let job = start(item);
            tasks.spawn(async move { (index, job.await) });
        }
        let outcome = match tasks.join_next().await {
            None => return,
            Some(Ok(done)) => Ok(done),
            Some(Err(err)) => match err.try_into_panic() {
                Ok(panic) => Err(panic),
                // Only this task aborts jobs (by dropping the set), so never seen here.
                Err(_) => continue,
            },
        };
        if sender.send(outcome).is_err() {
            // The stream is gone: dropping the set aborts the rest.
            return;
        }
    }
}

/// The stream of `drive` over `items`, started at once inside a runtime, else at the first
/// poll.
fn many<I, T, F, Fut>(
    items: impl Iterator<Item = (usize, I)> + Send + 'static,
    concurrency: usize,
    start: F,
) -> Many<T>
where
    I: Send + 'static,
    F: Fn(I) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = mpsc::unbounded_channel();
    let driver = drive(items, concurrency.max(1), sender, start);
    let driver = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => Driver::Running(runtime.spawn(driver)),
        Err(_) => Driver::NotStarted(Some(Box::pin(driver))),
    };
    Many { driver, receiver }
}

/// The task running [`drive`], started at once inside a runtime, else at the first poll.
enum Driver {
    NotStarted(Option<Pin<Box<dyn Future<Output = ()> + Send>>>),
    Running(JoinHandle<()>),
}

/// The stream of [`Client::upload_many`], [`Client::run_many`] and
/// [`Client::create_many`]. Dropping it aborts the driver task and with it every job.
struct Many<T> {
    driver: Driver,
    receiver: mpsc::UnboundedReceiver<Outcome<T>>,
}

impl<T> Stream for Many<T> {
    type Item = (usize, Result<T, Error>);

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

impl<T> Drop for Many<T> {
    fn drop(&mut self) {
        if let Driver::Running(handle) = &self.driver {
            handle.abort();
        }
    }
}
