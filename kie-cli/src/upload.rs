//! `kie upload` and `kie upload-url`.

use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use kie_async::{Client, Error, UploadOptions, UploadResult, UploadSource};

use crate::cli::{OutputFormat, UploadArgs, UploadUrlArgs};
use crate::exit::{Exit, classify};
use crate::output::{self, ErrorObject, FailedLine, UploadedLine};
use crate::progress::{self, Terminal, UploadBars};
use crate::signals;

/// One file to upload, found on the command line or in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The local file.
    pub path: PathBuf,
    /// Its size when it was listed (for the total bar).
    pub size: u64,
    /// The `uploadPath`: `--path`, plus the subdirectory it was found in.
    pub upload_path: String,
    /// The stored name: `--name`, or the local file's name.
    pub file_name: String,
    /// The file whose bytes are sent: `path`, or for `-` the copy of stdin.
    pub send: PathBuf,
}

/// What to take from directories: the `-r`, `--hidden` and `--exclude` flags.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Enter subdirectories.
    pub recursive: bool,
    /// Take names starting with `.` too.
    pub hidden: bool,
    /// Globs matched against a name, or (with a `/`) against the path below the directory
    /// given on the command line.
    pub exclude: Vec<String>,
}

/// What the arguments name: the files to upload, in order (a directory's entries sorted by
/// name), the arguments that could not be read, the arguments that are not files to upload
/// (each with why), and what directories held that was left out.
#[derive(Debug, Default)]
pub struct Listing {
    /// The files to upload.
    pub files: Vec<LocalFile>,
    /// Paths that could not be read, with the error.
    pub unreadable: Vec<(PathBuf, std::io::Error)>,
    /// Arguments refused before anything is sent, each with the reason.
    pub refused: Vec<String>,
    /// Subdirectories left out because `-r` was not given.
    pub skipped_folders: usize,
    /// Hidden files and folders left out because `--hidden` was not given.
    pub skipped_hidden: usize,
}

/// The files `paths` name. A directory contributes its files, and with `recursive` its
/// subdirectories' files under `<upload_path>/<subdirectory>`. Symbolic links to files are
/// followed; links to directories are not (no cycles). A FIFO, device or socket named on
/// the command line is refused (reading one could block forever or never end), and so is a
/// file whose size says 0 but that holds bytes (`/proc`-style files): the size is what the
/// upload declares before sending.
pub fn list_files(paths: &[PathBuf], walk_flags: &Walk, upload_path: &str) -> Listing {
    let mut listing = Listing::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, "", walk_flags, upload_path, &mut listing),
            Ok(meta) if meta.is_file() => match size_that_lies(path, &meta) {
                true => listing.refused.push(format!(
                    "{}: its size says 0 bytes but it holds data (a /proc-style file); copy it to a regular file first",
                    path.display()
                )),
                false => listing
                    .files
                    .push(local_file(path.clone(), meta.len(), upload_path)),
            },
            Ok(_) => listing.refused.push(format!(
                "{}: not a regular file (a FIFO, device or socket has no size to declare, and reading one may never end); copy it to a regular file first",
                path.display()
            )),
            Err(error) => listing.unreadable.push((path.clone(), error)),
        }
    }
    listing
}

/// A regular file that reports 0 bytes yet yields data when read.
fn size_that_lies(path: &Path, meta: &std::fs::Metadata) -> bool {
    use std::io::Read as _;
    meta.len() == 0
        && std::fs::File::open(path)
            .and_then(|mut file| file.read(&mut [0u8; 1]))
            .is_ok_and(|read| read > 0)
}

fn walk(dir: &Path, below: &str, flags: &Walk, upload_path: &str, listing: &mut Listing) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return listing.unreadable.push((dir.to_owned(), error)),
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let relative = if below.is_empty() {
            name.clone()
        } else {
            format!("{below}/{name}")
        };
        if !flags.hidden && name.starts_with('.') {
            listing.skipped_hidden += 1;
            continue;
        }
        if flags.exclude.iter().any(|glob| {
            let against = if glob.contains('/') { &relative } else { &name };
            glob_matches(glob, against)
        }) {
            continue;
        }
        let link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if flags.recursive && !link {
                    let sub_path = format!("{upload_path}/{name}");
                    walk(&path, &relative, flags, &sub_path, listing);
                } else if !flags.recursive {
                    listing.skipped_folders += 1;
                }
            }
            Ok(meta) if meta.is_file() && !size_that_lies(&path, &meta) => listing
                .files
                .push(local_file(path, meta.len(), upload_path)),
            // Sockets, FIFOs, devices, /proc-style files: not files to upload from a folder.
            Ok(_) => {}
            // A dangling link inside a directory: nothing to upload.
            Err(_) if link => {}
            Err(error) => listing.unreadable.push((path, error)),
        }
    }
}

/// Shell-style matching of the whole `text`: `*` is any run of characters but `/`, `?` one
/// character but `/`; everything else stands for itself.
fn glob_matches(glob: &str, text: &str) -> bool {
    let (glob, text): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    // Iterative matching with one backtrack point (the last `*`): linear in practice.
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match glob.get(g) {
            Some('*') => {
                star = Some((g, t));
                g += 1;
            }
            Some('?') if text[t] != '/' => {
                g += 1;
                t += 1;
            }
            Some(&c) if c != '*' && c != '?' && c == text[t] => {
                g += 1;
                t += 1;
            }
            _ => match star {
                // The last `*` takes one more character (never a `/`).
                Some((star_g, star_t)) if text[star_t] != '/' => {
                    star = Some((star_g, star_t + 1));
                    g = star_g + 1;
                    t = star_t + 1;
                }
                _ => return false,
            },
        }
    }
    glob[g..].iter().all(|&c| c == '*')
}

fn local_file(path: PathBuf, size: u64, upload_path: &str) -> LocalFile {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    LocalFile {
        send: path.clone(),
        path,
        size,
        upload_path: upload_path.to_owned(),
        file_name,
    }
}

/// Stdin (`-`), copied to a temporary file before the upload starts: the upload declares
/// its length before sending, and a retry sends it again from the start, neither of which
/// a pipe allows. The copy streams in constant memory and is removed on drop.
#[derive(Debug)]
pub struct StdinCopy {
    path: PathBuf,
    size: u64,
}

impl StdinCopy {
    /// Copies stdin on a thread of its own (not the runtime's blocking pool, whose shutdown
    /// would wait for it). Given up (dropped) before the copy ends, the file is removed at
    /// once; the thread then writes into an unlinked file until stdin ends or the process
    /// does.
    async fn take() -> std::io::Result<StdinCopy> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let path = std::env::temp_dir().join(format!("kie-stdin-{}-{nanos}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Removed on drop, also when the copy fails half-way or is given up.
        let mut copy = StdinCopy { path, size: 0 };
        let (done, copied) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = done.send(std::io::copy(&mut std::io::stdin().lock(), &mut file));
        });
        copy.size = copied
            .await
            .map_err(|_| std::io::Error::other("the thread copying stdin stopped"))??;
        Ok(copy)
    }
}

impl Drop for StdinCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `kie upload`: every file through [`Client::upload_many`]; results printed as they
/// complete (`--json`) or as a table at the end; failures listed on stderr at the end.
/// The uploads the arguments ask for, checked before anything is sent: the files and their
/// stored paths, and the arguments that could not be read. A refusal is reported and its
/// exit returned.
async fn plan(args: &UploadArgs, quiet: bool) -> Result<Plan, Exit> {
    // Options that would refuse every upload are refused once, naming the flag.
    if let Err(problem) = check_flags(args) {
        return Err(usage(&problem));
    }
    let mut paths = args.paths.clone();
    if let Some(list) = &args.files_from {
        match read_path_list(list) {
            Ok(listed) => paths.extend(listed),
            Err(error) => {
                return Err(usage(&format!(
                    "--files-from {}: cannot read it: {error}",
                    list.display()
                )));
            }
        }
    }
    let walk_flags = Walk {
        recursive: args.recursive,
        hidden: args.hidden,
        exclude: args.exclude.clone(),
    };
    let stdin = match stdin_upload(args, &paths).await? {
        Some((copy, file)) => {
            paths = vec![file.path.clone()];
            Some((copy, file))
        }
        None => None,
    };
    let (listing, stdin_copy) = match stdin {
        Some((copy, file)) => (
            Listing {
                files: vec![file],
                ..Listing::default()
            },
            Some(copy),
        ),
        None => (list_files(&paths, &walk_flags, &args.upload_path), None),
    };
    let Listing {
        mut files,
        unreadable,
        refused,
        skipped_folders,
        skipped_hidden,
    } = listing;
    if let Some(first) = refused.first() {
        return Err(usage(first));
    }
    if skipped_folders > 0 && !quiet {
        say!(
            "kie: {skipped_folders} sub-folder{} skipped (-r uploads them too)",
            if skipped_folders == 1 { "" } else { "s" }
        );
    }
    if skipped_hidden > 0 && !quiet {
        say!(
            "kie: {skipped_hidden} hidden file{} or folder{} skipped (--hidden includes them)",
            if skipped_hidden == 1 { "" } else { "s" },
            if skipped_hidden == 1 { "" } else { "s" }
        );
    }
    if args.keep_dirs {
        keep_dirs(&mut files, &args.upload_path);
    }
    if let Some(name) = &args.name {
        if paths.len() != 1 || paths.iter().any(|path| path.is_dir()) {
            return Err(usage(
                "--name names one file; it cannot be used with several files or a directory",
            ));
        }
        if let Some(local_file) = files.first_mut() {
            local_file.file_name.clone_from(name);
        }
    }

    if let Some(problem) = collision(&files) {
        return Err(usage(&problem));
    }

    if files.is_empty() && unreadable.is_empty() {
        let hint = if args.recursive {
            ""
        } else {
            " (-r uploads subdirectories too)"
        };
        return Err(usage(&format!(
            "nothing to upload: no files in the given directories{hint}"
        )));
    }

    Ok(Plan {
        files,
        unreadable,
        _stdin_copy: stdin_copy,
    })
}

/// What [`plan`] found.
struct Plan {
    files: Vec<LocalFile>,
    unreadable: Vec<(PathBuf, std::io::Error)>,
    /// Kept until the uploads are done.
    _stdin_copy: Option<StdinCopy>,
}

/// `-` among the paths: stdin, copied, as the one file to upload under `--name`.
async fn stdin_upload(
    args: &UploadArgs,
    paths: &[PathBuf],
) -> Result<Option<(StdinCopy, LocalFile)>, Exit> {
    use std::io::IsTerminal as _;
    if !paths.iter().any(|path| path == Path::new("-")) {
        return Ok(None);
    }
    if paths.len() != 1 {
        return Err(usage(
            "- (stdin) is uploaded on its own, not with other paths",
        ));
    }
    let Some(name) = &args.name else {
        return Err(usage(
            "- (stdin) needs --name FILE_NAME: the name to store it under",
        ));
    };
    if std::io::stdin().is_terminal() {
        return Err(usage(
            "- reads the content from stdin, which is a terminal: pipe or redirect it (kie upload - --name N < FILE)",
        ));
    }
    // Ctrl-C while stdin is still coming: nothing was sent, and the copy is removed.
    let copy = tokio::select! {
        biased;
        stop = signals::stop_requested() => {
            signals::after_the_echo(stop);
            say!("kie: interrupted while reading stdin: nothing was sent");
            return Err(stop);
        }
        copy = StdinCopy::take() => copy,
    };
    let copy = copy.map_err(|error| {
        say!("kie: cannot copy stdin to a temporary file: {error}");
        Exit::LocalFile
    })?;
    let file = LocalFile {
        path: PathBuf::from("-"),
        size: copy.size,
        upload_path: args.upload_path.clone(),
        file_name: name.clone(),
        send: copy.path.clone(),
    };
    Ok(Some((copy, file)))
}

/// `kie upload --dry-run`: where each file would be stored, and its size; nothing is sent
/// and no key is needed.
pub async fn dry_run(args: &UploadArgs, quiet: bool) -> Exit {
    let plan = match plan(args, quiet).await {
        Ok(plan) => plan,
        Err(exit) => return exit,
    };
    let (files, unreadable) = (&plan.files, &plan.unreadable);
    let mut lines = String::new();
    for file in files {
        lines.push_str(&format!(
            "{} -> {}/{} ({})\n",
            file.path.display(),
            file.upload_path,
            file.file_name,
            indicatif::BinaryBytes(file.size)
        ));
    }
    output::print_text(&lines);
    for (path, source) in unreadable {
        say!("kie: {}: {source}", path.display());
    }
    if !quiet {
        say!(
            "kie: dry run: {} file(s), {}; nothing was sent",
            files.len(),
            indicatif::BinaryBytes(files.iter().map(|file| file.size).sum())
        );
    }
    if unreadable.is_empty() {
        Exit::Success
    } else {
        Exit::LocalFile
    }
}

pub async fn upload(
    client: &Client,
    args: UploadArgs,
    json: bool,
    quiet: bool,
    terminal: &Terminal,
) -> Exit {
    let format = match (args.output, json, quiet) {
        (Some(format), _, _) => format,
        (None, true, _) => OutputFormat::Json,
        (None, false, true) => OutputFormat::Url,
        (None, false, false) => OutputFormat::Table,
    };
    let json = format == OutputFormat::Json;
    let plan = match plan(&args, quiet).await {
        Ok(plan) => plan,
        Err(exit) => return exit,
    };
    let Plan {
        files,
        unreadable,
        _stdin_copy,
    } = plan;

    let mut failures: Vec<(String, Error)> = unreadable
        .into_iter()
        .map(|(path, source)| {
            let error = Error::Io {
                path: Some(path.clone()),
                source,
            };
            (path.display().to_string(), error)
        })
        .collect();
    if json {
        for (path, error) in &failures {
            output::print_json(&FailedLine {
                path: Some(path),
                error: ErrorObject::new(error),
            });
        }
    }

    let names: Vec<(String, u64)> = files
        .iter()
        .map(|local_file| (local_file.file_name.clone(), local_file.size))
        .collect();
    // JSON lines are printed as uploads finish. On the same terminal, the bars step aside for
    // each (`suspend`); into a pipe (`| jq`), the reader may print them on the bars' screen at
    // any moment, and redrawn bars would wipe them: no bars then.
    let bars = if json && progress::stdout_is_a_pipe() {
        UploadBars::none()
    } else {
        UploadBars::new(terminal, &names)
    };
    let base64 = args.base64 || args.data_url;
    let uploads: Vec<(UploadSource, UploadOptions)> = files
        .iter()
        .enumerate()
        .map(|(index, local_file)| {
            let mut options = options_for(&args, local_file);
            if let Some(callback) = bars.callback(index) {
                options = options.on_progress(callback);
            }
            let source = if base64 {
                UploadSource::Base64Path(local_file.send.clone())
            } else {
                UploadSource::Path(local_file.send.clone())
            };
            (source, options)
        })
        .collect();

    let started = std::time::Instant::now();
    let mut results: Vec<Option<UploadResult>> = vec![None; files.len()];
    let mut seen = 0;
    let mut stream = client.upload_many(uploads, usize::from(args.concurrency));
    // Ctrl-C (or SIGTERM) ends the batch here, not by dropping it from outside, so that
    // what finished is still printed. The handlers are installed at the first poll, before
    // anything is sent.
    let stop = signals::stop_requested();
    tokio::pin!(stop);
    let mut stopped = None;
    let mut redraw = tokio::time::interval(std::time::Duration::from_secs(1));
    redraw.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = tokio::select! {
            biased;
            stop = &mut stop => Err(stop),
            next = stream.next() => Ok(next),
            _ = redraw.tick() => {
                bars.tick();
                continue;
            }
        };
        let (index, result) = match next {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(stop) => {
                stopped = Some(stop);
                break;
            }
        };
        seen += 1;
        let path = files.get(index).map_or_else(String::new, |local_file| {
            local_file.path.display().to_string()
        });
        bars.finished(index, result.is_ok());
        match result {
            Ok(uploaded) => {
                if json {
                    bars.suspend(|| output::print_json(&UploadedLine::new(&path, &uploaded)));
                }
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(uploaded);
                }
            }
            Err(error) => {
                if json {
                    bars.suspend(|| {
                        output::print_json(&FailedLine {
                            path: Some(&path),
                            error: ErrorObject::new(&error),
                        })
                    });
                }
                // A refusal for the whole account (the key, the credits) would repeat for
                // every file: stop starting uploads and say it once.
                let account_wide = crate::exit::is_account_wide(&error);
                failures.push((path, error));
                if account_wide {
                    drop(stream);
                    bars.finish();
                    let not_attempted = files.len() - seen;
                    let (path, error) = &failures[failures.len() - 1];
                    output::report_error(Some(path), error, None);
                    if not_attempted > 0 {
                        say!(
                            "kie: stopped: {not_attempted} more file(s) not attempted (the same refusal would repeat)"
                        );
                    }
                    return classify(error).exit;
                }
            }
        }
    }
    // Dropping the stream aborts the uploads still in flight (their requests are cut off,
    // so the service stores nothing partial).
    drop(stream);
    if stopped.is_some() {
        bars.clear();
    } else {
        bars.finish();
    }

    let succeeded: Vec<(String, &UploadResult)> = files
        .iter()
        .zip(&results)
        .filter_map(|(local_file, result)| {
            Some((local_file.path.display().to_string(), result.as_ref()?))
        })
        .collect();
    match format {
        OutputFormat::Table if !succeeded.is_empty() => {
            let rows: Vec<(&str, &UploadResult)> =
                succeeded.iter().map(|(p, r)| (p.as_str(), *r)).collect();
            output::print_text(&output::table(&rows));
        }
        OutputFormat::Url => {
            let urls: String = succeeded
                .iter()
                .map(|(_, result)| format!("{}\n", result.download_url))
                .collect();
            output::print_text(&urls);
        }
        _ => {}
    }
    for (path, error) in &failures {
        output::report_error(Some(path), error, None);
    }
    if let Some(stop) = stopped {
        say!(
            "kie: interrupted: {seen} of {} uploads finished, {} not (nothing partial is stored)",
            files.len(),
            files.len() - seen
        );
        return stop;
    }
    if !quiet {
        let bytes: u64 = succeeded.iter().filter_map(|(_, r)| r.file_size).sum();
        let failed = if failures.is_empty() {
            String::new()
        } else {
            format!(
                "{} of {} uploads failed; ",
                failures.len(),
                failures.len() + succeeded.len()
            )
        };
        say!(
            "kie: {failed}{} uploaded ({}) in {:.1} s",
            succeeded.len(),
            indicatif::BinaryBytes(bytes),
            started.elapsed().as_secs_f64()
        );
    }
    Exit::combine(
        succeeded.len(),
        failures.iter().map(|(_, error)| classify(error).exit),
    )
}

/// The options of one local_file: its folder and name, and the flags' settings (`--verify` is
/// the SDK's download-and-compare, so a difference is its `Error::Integrity`).
fn options_for(args: &UploadArgs, local_file: &LocalFile) -> UploadOptions {
    let mut options = UploadOptions::new(local_file.upload_path.as_str())
        .file_name(local_file.file_name.as_str())
        .data_url(args.data_url)
        .verify_download(args.verify);
    if let Some(mime) = &args.mime {
        options = options.mime_type(mime.as_str());
    }
    options
}

/// `kie upload-url`.
pub async fn upload_url(client: &Client, args: UploadUrlArgs, json: bool) -> Exit {
    let mut options = UploadOptions::new(args.upload_path.as_str());
    if let Some(name) = &args.name {
        options = options.file_name(name.as_str());
    }
    match client.upload_url(&args.url, &options).await {
        Ok(uploaded) => {
            if json {
                output::print_json(&UploadedLine::new(&args.url, &uploaded));
            } else {
                output::print_text(&output::table(&[(args.url.as_str(), &uploaded)]));
            }
            Exit::Success
        }
        Err(error) => {
            if json {
                output::print_json(&FailedLine {
                    path: Some(&args.url),
                    error: ErrorObject::new(&error),
                });
            }
            output::report_error(Some(&args.url), &error, None);
            classify(&error).exit
        }
    }
}

/// The paths `--files-from` lists, one per line (`-`: stdin); empty lines are skipped and a
/// final `\r` is not part of a path.
fn read_path_list(list: &Path) -> std::io::Result<Vec<PathBuf>> {
    let text = if list == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(list)?
    };
    Ok(text
        .lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(PathBuf::from)
        .collect())
}

/// Checks the flags every upload would send, once: `--path`, `--name`, `--mime`.
fn check_flags(args: &UploadArgs) -> Result<(), String> {
    use kie_async::kie_proto::{FileName, MimeType, UploadPath};
    UploadPath::new(args.upload_path.as_str())
        .map_err(|error| format!("--path {:?}: {error}", args.upload_path))?;
    if let Some(name) = &args.name {
        FileName::new(name.as_str()).map_err(|error| format!("--name {name:?}: {error}"))?;
    }
    if let Some(mime) = &args.mime {
        MimeType::new(mime.as_str()).map_err(|error| format!("--mime {mime:?}: {error}"))?;
    }
    let stdin = Path::new("-");
    if args.files_from.as_deref() == Some(stdin) && args.paths.iter().any(|path| path == stdin) {
        return Err(
            "- and --files-from - both read stdin: give the list or the content there, not both"
                .to_owned(),
        );
    }
    Ok(())
}

/// With `--keep-dirs`, the folders of a file argument go into its stored path (without
/// the root, `.` or `..`).
fn keep_dirs(files: &mut [LocalFile], upload_path: &str) {
    for file in files
        .iter_mut()
        .filter(|file| file.upload_path == upload_path)
    {
        let folders: Vec<String> = file
            .path
            .parent()
            .map(|parent| {
                parent
                    .components()
                    .filter_map(|part| match part {
                        std::path::Component::Normal(name) => {
                            Some(name.to_string_lossy().into_owned())
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !folders.is_empty() {
            file.upload_path = format!("{upload_path}/{}", folders.join("/"));
        }
    }
}

/// Two files that would be stored under the same `uploadPath/fileName` (the second would
/// overwrite the first): a refusal naming both, before anything is sent.
fn collision(files: &[LocalFile]) -> Option<String> {
    let mut seen: std::collections::HashMap<(&str, &str), &Path> = std::collections::HashMap::new();
    for file in files {
        let key = (file.upload_path.as_str(), file.file_name.as_str());
        if let Some(first) = seen.insert(key, &file.path) {
            return Some(format!(
                "{} and {} would both be stored as {}/{} (the second would overwrite the first); pass --keep-dirs to keep their folders in the stored path, or upload them separately",
                first.display(),
                file.path.display(),
                file.upload_path,
                file.file_name
            ));
        }
    }
    None
}

fn usage(message: &str) -> Exit {
    say!("kie: {message}");
    Exit::Usage
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_match_whole_names_and_never_cross_a_slash() {
        for (glob, text) in [
            ("*.log", "b.log"),
            ("*", "anything"),
            ("a?c", "abc"),
            ("sub/sk?p", "sub/skip"),
            ("*/*.txt", "sub/c.txt"),
            ("**", ""),
            ("a*b*c", "a-b-b-c"),
        ] {
            assert!(glob_matches(glob, text), "{glob} {text}");
        }
        for (glob, text) in [
            ("*.log", "b.log.txt"),
            ("*.txt", "sub/c.txt"),
            ("a?c", "a/c"),
            ("abc", "ab"),
            ("a*c", "a/c"),
            ("", "a"),
        ] {
            assert!(!glob_matches(glob, text), "{glob} {text}");
        }
    }
}
