//! The one training loop for every architecture and optimizer.
//!
//! Each optimizer step takes an effective batch of `batch` images `[B, 1, 28, 28]`, split into
//! micro-batches whose gradients are summed (`--accumulate`). Shuffling and augmentation are
//! drawn from `seed` and the epoch number, so a run resumed from a checkpoint continues exactly
//! as the uninterrupted run would have. A checkpoint is written atomically after every epoch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Module, Tensor};
use candle_nn::ops::{log_softmax, softmax};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::augment::augment_labelled;
use crate::data::batch;
use crate::data::extra::NOT_A_DIGIT;
use crate::data::mnist::{Digits, Mnist, PIXELS};
use crate::error::{Error, Result};
use crate::fit::checkpoint::{self, Header};
use crate::fit::config::{Distill, TrainConfig};
use crate::fit::device;
use crate::fit::optim::{self, Optimizer};
use crate::measure::evaluate::{evaluate, predictions, Evaluation};
use crate::measure::metrics::{self, EpochMetrics};
use crate::measure::plot;
use crate::model::Model;
use crate::progress::{Progress, Unit};

/// Where and how a run executes; none of it changes the numbers it computes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Folder for checkpoint, metrics and pictures.
    pub out: PathBuf,
    /// Continue from `out/checkpoint.safetensors` if it exists.
    pub resume: bool,
    /// Where to compute.
    pub device: Device,
    /// Images per evaluation batch.
    pub eval_batch: usize,
    /// Watches the epochs.
    pub progress: std::sync::Arc<dyn Progress>,
}

/// What a finished run leaves behind.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Metrics of every epoch, including those before a resume.
    pub history: Vec<EpochMetrics>,
    /// Evaluation on the test images after the last epoch.
    pub evaluation: Evaluation,
    /// The training checkpoint (weights and optimizer state).
    pub checkpoint: PathBuf,
    /// The final weights alone, for evaluation and export.
    pub weights: PathBuf,
    /// The network trained: a fine-tuned one has the architecture of its --init.
    pub arch: crate::model::ArchConfig,
}

/// Names of the files a run writes in its output folder.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// Final weights without optimizer state.
pub const WEIGHTS: &str = "model.safetensors";

/// Trains per `config` on `data`, writing into `opts.out`.
pub fn train(config: TrainConfig, data: &Mnist, opts: &RunOptions) -> Result<Outcome> {
    config.validate()?;
    crate::atomic::writable_dir(&opts.out)?;
    let ckpt_path = opts.out.join(CHECKPOINT);
    let (config, model, varmap, mut opt, mut history, pruning) = start(config, &ckpt_path, opts)?;
    let (train_set, test_set, mnist_count) = data_sets(&config, data)?;
    let teachers = teachers(&config, &opts.device)?;
    let cost = config.arch.cost();
    tracing::info!(
        "{}: {} parameters, {} multiply-accumulates per image; {} training images, {} test images, device {}",
        config.arch.arch(),
        cost.params,
        cost.macs,
        train_set.len(),
        test_set.len(),
        device::name(&opts.device)
    );
    let steps_per_epoch = train_set.len().div_ceil(config.batch) as u64;
    let total_steps = steps_per_epoch * config.epochs as u64;
    let mut micro = config.batch.div_ceil(config.accumulate);

    let mut evaluation = None;
    for epoch in history.len()..config.epochs {
        let started = Instant::now();
        let mut order: Vec<usize> = (0..train_set.len()).collect();
        order.shuffle(&mut epoch_rng(config.seed, epoch, 0));
        let aug_rng = epoch_rng(config.seed, epoch, 1);
        let bar = opts.progress.start(
            &format!("epoch {}/{}", epoch + 1, config.epochs),
            steps_per_epoch,
            Unit::Items,
        );
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut lr = config.lr;
        // The batches are gathered and augmented on a thread of their own, a few steps
        // ahead, in the order one thread would: the numbers are the same, and the step no
        // longer waits for them.
        let steps = std::thread::scope(|scope| -> Result<()> {
            let batches = prefetch(
                scope,
                &train_set,
                &order,
                mnist_count,
                config.batch,
                config.augment.as_ref(),
                aug_rng,
            );
            for (k, (images, labels, from_mnist)) in batches.iter().enumerate() {
                let step = epoch as u64 * steps_per_epoch + k as u64;
                lr = config.schedule.rate(config.lr, step, total_steps);
                // Out of GPU memory, the micro-batch halves; the step stays the same step.
                let stats = loop {
                    match train_step(
                        &model,
                        opt.as_mut(),
                        &images,
                        &labels,
                        &from_mnist,
                        micro,
                        lr,
                        &opts.device,
                        teachers.as_ref().map(Teachers::view),
                    ) {
                        Ok(stats) => break stats,
                        Err(Error::Candle(e)) if device::is_out_of_memory(&e) && micro > 1 => {
                            micro = micro.div_ceil(2);
                            bar.aside(&mut || {
                            tracing::warn!(
                                "out of GPU memory: micro-batch halved to {micro}, effective batch stays {}",
                                config.batch
                            )
                        });
                        }
                        Err(e) => return Err(e),
                    }
                };
                loss_sum += stats.loss_sum;
                correct += stats.correct;
                seen += labels.len();
                if k % 10 == 0 || k as u64 + 1 == steps_per_epoch {
                    let secs = started.elapsed().as_secs_f64().max(1e-9);
                    bar.note(&format!(
                        "loss {:.4}  acc {:.2}%  {:.0} img/s  lr {:.1e}",
                        loss_sum / seen as f64,
                        100.0 * correct as f64 / seen as f64,
                        seen as f64 / secs,
                        lr
                    ));
                }
                bar.advance(1);
            }
            Ok(())
        });
        steps?;
        drop(bar);
        let seconds = started.elapsed().as_secs_f64();
        let tested = Instant::now();
        let eval = evaluate(&model, &test_set, &opts.device, opts.eval_batch)?;
        let test_seconds = tested.elapsed().as_secs_f64();
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            test_loss: eval.loss,
            test_accuracy: eval.accuracy,
            images_per_s: seen as f64 / seconds.max(1e-9),
            seconds,
            test_seconds,
        };
        tracing::info!(
            "epoch {}/{}: train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | {:.0} img/s, {:.1} s + {:.1} s test",
            m.epoch,
            config.epochs,
            m.train_loss,
            100.0 * m.train_accuracy,
            m.test_loss,
            100.0 * m.test_accuracy,
            m.images_per_s,
            m.seconds,
            m.test_seconds
        );
        history.push(m);
        let header = Header {
            arch: config.arch,
            epoch: epoch + 1,
            steps: opt.steps(),
            train: Some(config.clone()),
            history: history.clone(),
            dataset_sha256: Some(data.sha256.clone()),
            tool: format!("train {}", env!("CARGO_PKG_VERSION")),
            pruning: pruning.clone(),
        };
        checkpoint::save(&ckpt_path, &header, &varmap, Some(opt.as_ref()))?;
        checkpoint::save(&opts.out.join(WEIGHTS), &header, &varmap, None)?;
        write_reports(&opts.out, &history, &eval, &config)?;
        evaluation = Some(eval);
    }
    let evaluation = match evaluation {
        Some(e) => e,
        None => {
            tracing::info!(
                "{}: all {} epochs were already done",
                ckpt_path.display(),
                config.epochs
            );
            evaluate(&model, &test_set, &opts.device, opts.eval_batch)?
        }
    };
    Ok(Outcome {
        history,
        evaluation,
        checkpoint: ckpt_path,
        weights: opts.out.join(WEIGHTS),
        arch: config.arch,
    })
}

/// Batches queued ahead of the step: enough to cover a slow augmentation without holding
/// more than a few batches of pixels.
const PREFETCH: usize = 4;

/// One batch: pixels, labels, and whether each image is one of MNIST's own (the first
/// `mnist_count` of the training set) rather than an extra digit.
type Batch = (Vec<u8>, Vec<u8>, Vec<bool>);

/// The epoch's batches in `order`, `batch` images each, gathered and augmented on a thread of
/// `scope` up to [`PREFETCH`] batches ahead. Dropping the receiver stops the thread.
fn prefetch<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    set: &'env Digits,
    order: &'env [usize],
    mnist_count: usize,
    batch: usize,
    how: Option<&'env crate::data::augment::AugmentConfig>,
    mut rng: ChaCha8Rng,
) -> std::sync::mpsc::Receiver<Batch> {
    let (tx, rx) = std::sync::mpsc::sync_channel(PREFETCH);
    scope.spawn(move || {
        for idx in order.chunks(batch) {
            let images = batch_images(set, idx, how, &mut rng);
            let labels: Vec<u8> = idx.iter().map(|&i| set.labels[i]).collect();
            let from_mnist = idx.iter().map(|&i| i < mnist_count).collect();
            if tx.send((images, labels, from_mnist)).is_err() {
                return;
            }
        }
    });
    rx
}

/// The pixels of the training images `idx`, each augmented when the run augments.
fn batch_images(
    set: &Digits,
    idx: &[usize],
    how: Option<&crate::data::augment::AugmentConfig>,
    rng: &mut ChaCha8Rng,
) -> Vec<u8> {
    let mut images = Vec::with_capacity(idx.len() * PIXELS);
    for &i in idx {
        match how {
            Some(a) => images.extend(augment_labelled(set.image(i), set.labels[i], a, rng)),
            None => images.extend_from_slice(set.image(i)),
        }
    }
    images
}

/// The images a run trains and is judged on: MNIST's (limited as the run says) followed by the
/// extra digits of `--extra`, and how many of the training images are MNIST's; refused when
/// either set is empty, which would write an untrained model.
fn data_sets(config: &TrainConfig, data: &Mnist) -> Result<(Digits, Digits, usize)> {
    let mut train_set = limit(&data.train, config.train_limit);
    let mnist_count = train_set.len();
    if let Some(dir) = &config.extra {
        let extra = crate::data::extra::read_extra(dir, config.not_digits)?;
        tracing::info!(
            "{} extra training digits from {}",
            extra.len(),
            dir.display()
        );
        train_set.images.extend_from_slice(&extra.images);
        train_set.labels.extend_from_slice(&extra.labels);
    }
    let test_set = limit(&data.test, config.test_limit);
    if train_set.is_empty() {
        return Err(Error::Config(
            "no training images (an empty data set, or --train-limit 0)".into(),
        ));
    }
    if test_set.is_empty() {
        return Err(Error::Config(
            "no test images (an empty test set, or --test-limit 0)".into(),
        ));
    }
    Ok((train_set, test_set, mnist_count))
}

/// The networks a distilling run learns from, loaded once ([`teachers`]).
struct Teachers {
    model: Model,
    keep: Option<Model>,
    distill: Distill,
}

impl Teachers {
    /// What each step borrows.
    fn view(&self) -> Teacher<'_> {
        Teacher {
            model: &self.model,
            keep: self.keep.as_ref(),
            distill: &self.distill,
        }
    }
}

/// The teacher network of a distilling run and the one MNIST's images keep, loaded once.
fn teachers(config: &TrainConfig, device: &Device) -> Result<Option<Teachers>> {
    let Some(d) = &config.distill else {
        return Ok(None);
    };
    let load = |path: &Path| -> Result<Model> {
        let ckpt = checkpoint::load(path, device)?;
        Ok(ckpt.model(path, device)?.0)
    };
    let model = load(&d.teacher)?;
    let keep = d.keep.as_deref().map(load).transpose()?;
    match &d.keep {
        Some(k) => tracing::info!(
            "distilling the extra digits from {} and MNIST's from {}, weight {}, temperature {}",
            d.teacher.display(),
            k.display(),
            d.weight,
            d.temperature
        ),
        None => tracing::info!(
            "distilling from {}, weight {}, temperature {}",
            d.teacher.display(),
            d.weight,
            d.temperature
        ),
    }
    Ok(Some(Teachers {
        model,
        keep,
        distill: d.clone(),
    }))
}

/// What a distilling step learns from besides the labels.
#[derive(Clone, Copy)]
pub struct Teacher<'a> {
    /// The teacher of every image, or of the extra digits alone when `keep` is given.
    pub model: &'a Model,
    /// The network whose outputs MNIST's own images are distilled towards.
    pub keep: Option<&'a Model>,
    /// Weight and temperature of the teacher's term.
    pub distill: &'a Distill,
}

type Start = (
    TrainConfig,
    Model,
    candle_nn::VarMap,
    Box<dyn Optimizer>,
    Vec<EpochMetrics>,
    // The pruning history the network carries.
    Option<String>,
);

/// Builds the model and optimizer afresh, or restores them from the checkpoint.
fn start(config: TrainConfig, ckpt_path: &Path, opts: &RunOptions) -> Result<Start> {
    config.validate()?;
    if ckpt_path.exists() {
        if !opts.resume {
            return Err(Error::Config(format!(
                "{} already holds a checkpoint; pass --resume to continue it, or choose another --out",
                opts.out.display()
            )));
        }
        let ckpt = checkpoint::load(ckpt_path, &opts.device)?;
        let stored = ckpt.header.train.clone().ok_or_else(|| {
            Error::checkpoint(ckpt_path, "holds weights only, no training state to resume")
        })?;
        // A fine-tuning run takes its architecture from --init; that is not a change.
        let mut given = config.clone();
        if given.init.is_some() {
            given.arch = stored.arch;
        }
        if stored != given {
            tracing::warn!(
                "resuming with the settings stored in {}; the ones given now are ignored",
                ckpt_path.display()
            );
        }
        let (model, varmap) = ckpt.model(ckpt_path, &opts.device)?;
        let mut opt = optim::build(&stored.optimizer, optim::named_vars(&varmap)?)?;
        opt.load_state(&ckpt.tensors, ckpt.header.steps)
            .map_err(|e| Error::checkpoint(ckpt_path, e.to_string()))?;
        tracing::info!(
            "resuming {} after epoch {}",
            ckpt_path.display(),
            ckpt.header.epoch
        );
        let mut history = ckpt.header.history;
        history.truncate(ckpt.header.epoch);
        // The resumed checkpoint carries the pruning history: --init is not read again (it
        // may have moved since the run began).
        return Ok((stored, model, varmap, opt, history, ckpt.header.pruning));
    }
    if opts.resume {
        tracing::info!("no checkpoint in {}: starting afresh", opts.out.display());
    }
    let mut config = config;
    // A fine-tuned network keeps the pruning history of the one it started from.
    let mut pruning = None;
    let (model, varmap) = match &config.init {
        Some(init) => {
            let ckpt = checkpoint::load(init, &opts.device)?;
            if ckpt.header.arch != config.arch {
                tracing::info!(
                    "fine-tuning {}: its architecture replaces --arch",
                    init.display()
                );
                config.arch = ckpt.header.arch;
            }
            pruning = ckpt.header.pruning.clone();
            ckpt.model(init, &opts.device)?
        }
        None => Model::fresh(&config.arch, config.seed, &opts.device)?,
    };
    let opt = optim::build(&config.optimizer, optim::named_vars(&varmap)?)?;
    Ok((config, model, varmap, opt, Vec::new(), pruning))
}

/// Loss summed over a step's images and how many it classified right.
pub struct StepStats {
    /// Sum of per-image cross-entropy.
    pub loss_sum: f64,
    /// Images classified right (before the update).
    pub correct: usize,
}

/// One optimizer step over `labels.len()` images, in micro-batches of `micro` whose gradients
/// are summed, each weighted by its share of the batch so the step equals a full-batch step.
/// With a teacher, the loss also pulls towards its softened outputs (see [`Distill`]), those of
/// `keep` for the images `from_mnist` marks; the reported loss stays the cross-entropy against
/// the labels.
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    model: &Model,
    opt: &mut dyn Optimizer,
    images: &[u8],
    labels: &[u8],
    from_mnist: &[bool],
    micro: usize,
    lr: f64,
    device: &Device,
    teacher: Option<Teacher<'_>>,
) -> Result<StepStats> {
    let n = labels.len();
    let vars: Vec<_> = opt.vars().iter().map(|(_, v)| v.clone()).collect();
    let mut grads: Vec<Option<Tensor>> = vec![None; vars.len()];
    let (mut loss_sum, mut correct) = (0.0, 0);
    for start in (0..n).step_by(micro.max(1)) {
        let end = (start + micro).min(n);
        let xs = batch::images(images[start * PIXELS..end * PIXELS].chunks(PIXELS), device)?;
        let logits = model.forward(&xs)?;
        let loss = labels_loss(&logits, &labels[start..end], device)?;
        let total = match teacher {
            Some(t) => {
                let d = t.distill;
                let soften = |m: &Model| softmax(&(m.forward(&xs)?.detach() / d.temperature)?, 1);
                let soft = soften(t.model)?;
                let soft = match t.keep {
                    Some(keep) => {
                        let mask: Vec<f32> = (start..end)
                            .map(|i| {
                                f32::from(u8::from(from_mnist.get(i).copied().unwrap_or(false)))
                            })
                            .collect();
                        let mask = Tensor::from_vec(mask, (end - start, 1), device)?;
                        (soften(keep)?.broadcast_mul(&mask)?
                            + soft.broadcast_mul(&mask.affine(-1.0, 1.0)?)?)?
                    }
                    None => soft,
                };
                let log_student = log_softmax(&(&logits / d.temperature)?, 1)?;
                let kd = ((soft * log_student)?.sum(1)?.mean(0)?.neg()?
                    * (d.temperature * d.temperature))?;
                ((&loss * (1.0 - d.weight))? + (kd * d.weight)?)?
            }
            None => loss.clone(),
        };
        let share = (end - start) as f64 / n as f64;
        let store = if end - start == n {
            total.backward()?
        } else {
            (&total * share)?.backward()?
        };
        for (slot, var) in grads.iter_mut().zip(&vars) {
            if let Some(g) = store.get(var) {
                *slot = Some(match slot.take() {
                    Some(acc) => (acc + g)?,
                    None => g.clone(),
                });
            }
        }
        loss_sum += loss.to_scalar::<f32>()? as f64 * (end - start) as f64;
        let predicted = predictions(&logits)?;
        correct += predicted
            .iter()
            .zip(&labels[start..end])
            .filter(|(p, l)| **p == **l as u32)
            .count();
    }
    opt.step(&grads, lr)?;
    Ok(StepStats { loss_sum, correct })
}

/// Cross-entropy against the labels; a mark that is not a digit ([`NOT_A_DIGIT`]) is trained
/// towards equal odds for every class (outlier exposure, Hendrycks et al. 2019), so that the
/// edge's confidence threshold turns it away.
fn labels_loss(logits: &Tensor, labels: &[u8], device: &Device) -> Result<Tensor> {
    if !labels.contains(&NOT_A_DIGIT) {
        let ys = batch::labels(labels.iter().copied(), device)?;
        return Ok(candle_nn::loss::cross_entropy(logits, &ys)?);
    }
    let classes = logits.dim(1)?;
    let mut target = vec![0f32; labels.len() * classes];
    for (row, &l) in target.chunks_exact_mut(classes).zip(labels) {
        match row.get_mut(usize::from(l)) {
            Some(t) if l != NOT_A_DIGIT => *t = 1.0,
            _ => row.fill(1.0 / classes as f32),
        }
    }
    let target = Tensor::from_vec(target, (labels.len(), classes), device)?;
    Ok((target * log_softmax(logits, 1)?)?.sum(1)?.mean(0)?.neg()?)
}

fn write_reports(
    out: &Path,
    history: &[EpochMetrics],
    eval: &Evaluation,
    config: &TrainConfig,
) -> Result<()> {
    metrics::write(out, history)?;
    plot::curves(history, &out.join("curves.png"))?;
    let title = format!("{} after epoch {}", config.arch.arch(), history.len());
    plot::confusion(eval, &title, &out.join("confusion.png"))
}

fn epoch_rng(seed: u64, epoch: usize, stream: u64) -> ChaCha8Rng {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(stream);
    rng
}

fn limit(digits: &Digits, n: Option<usize>) -> Digits {
    match n {
        Some(n) => digits.truncated(n),
        None => digits.clone(),
    }
}

#[cfg(test)]
mod tests;
