//! Tests of [`super`] (`trainer.rs`).

use super::*;
use crate::fit::optim::OptimizerConfig;
use crate::model::Arch;

fn images(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let px = (0..n * PIXELS).map(|_| rng.random::<u8>()).collect();
    let labels = (0..n).map(|_| rng.random_range(0..10u8)).collect();
    (px, labels)
}

/// `n` random images as both the training and the test set.
fn tiny_mnist(n: usize, seed: u64) -> Mnist {
    let (images, labels) = images(n, seed);
    let digits = Digits { images, labels };
    Mnist {
        train: digits.clone(),
        test: digits,
        sha256: "test".into(),
        official: false,
    }
}

/// Every weight of `varmap`, flattened in its variables' order.
fn weights(varmap: &candle_nn::VarMap) -> Vec<f32> {
    optim::named_vars(varmap)
        .unwrap()
        .iter()
        .flat_map(|(_, v)| v.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

/// The largest change of any weight between `a` and `b`.
fn largest_change(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// How far one plain SGD step (no momentum, no decay, lr 0.1) distilled from `teacher` moves
/// a fresh strided network of seed 4, in micro-batches of `micro`.
fn distilled_step_moves(
    px: &[u8],
    labels: &[u8],
    from_mnist: &[bool],
    micro: usize,
    teacher: Teacher<'_>,
) -> f32 {
    let sgd = OptimizerConfig {
        kind: crate::fit::optim::OptimizerKind::Sgd,
        weight_decay: 0.0,
        momentum: 0.0,
        ..OptimizerConfig::default()
    };
    let (model, varmap) = Model::fresh(&Arch::Strided.config(), 4, &Device::Cpu).unwrap();
    let before = weights(&varmap);
    let mut opt = optim::build(&sgd, optim::named_vars(&varmap).unwrap()).unwrap();
    train_step(
        &model,
        opt.as_mut(),
        px,
        labels,
        from_mnist,
        micro,
        0.1,
        &Device::Cpu,
        Some(teacher),
    )
    .unwrap();
    largest_change(&before, &weights(&varmap))
}

/// A resumed fine-tuning run once read its --init checkpoint again for the pruning
/// history, and failed when that file had moved since the run began.
#[test]
fn issue17_a_fine_tuning_run_resumes_after_its_init_checkpoint_moved() {
    let dir = tempfile::tempdir().unwrap();
    let arch = crate::model::ArchConfig::Strided(crate::model::StridedConfig {
        conv1: 2,
        conv2: 2,
        hidden: 4,
    });
    let (_, varmap) = Model::fresh(&arch, 0, &Device::Cpu).unwrap();
    let init = dir.path().join("pruned.safetensors");
    let header = Header {
        pruning: Some("kept half".into()),
        ..Header::blank(arch)
    };
    checkpoint::save(&init, &header, &varmap, None).unwrap();
    let data = tiny_mnist(40, 1);
    let config = TrainConfig {
        arch,
        epochs: 1,
        batch: 20,
        augment: None,
        init: Some(init.clone()),
        ..TrainConfig::default()
    };
    let opts = RunOptions {
        out: dir.path().join("run"),
        resume: true,
        device: Device::Cpu,
        eval_batch: 20,
        progress: std::sync::Arc::new(crate::progress::Quiet),
    };
    train(config.clone(), &data, &opts).unwrap();
    std::fs::rename(&init, dir.path().join("moved.safetensors")).unwrap();
    let again = train(config, &data, &opts).unwrap();
    let ckpt = checkpoint::load(&again.weights, &Device::Cpu).unwrap();
    assert_eq!(ckpt.header.pruning.as_deref(), Some("kept half"));
}

#[test]
fn accumulated_micro_batches_equal_one_full_batch() {
    let (px, labels) = images(12, 5);
    let mut stepped = Vec::new();
    for micro in [12, 4, 5] {
        let (model, varmap) = Model::fresh(&Arch::Light.config(), 9, &Device::Cpu).unwrap();
        let mut opt = optim::build(
            &OptimizerConfig::default(),
            optim::named_vars(&varmap).unwrap(),
        )
        .unwrap();
        let stats = train_step(
            &model,
            opt.as_mut(),
            &px,
            &labels,
            &[],
            micro,
            1e-3,
            &Device::Cpu,
            None,
        )
        .unwrap();
        assert!(stats.loss_sum > 0.0);
        stepped.push(weights(&varmap));
    }
    for other in &stepped[1..] {
        let max = largest_change(&stepped[0], other);
        assert!(max < 1e-5, "accumulation changed the step by {max}");
    }
}

/// A student that already outputs what its teacher does has nothing to learn from it:
/// with the teacher's term alone the step leaves the weights as they were; with the labels
/// it moves them.
#[test]
fn distilling_from_an_identical_teacher_gives_no_gradient() {
    let (px, labels) = images(8, 6);
    let (teacher, _) = Model::fresh(&Arch::Strided.config(), 4, &Device::Cpu).unwrap();
    for (weight, moves) in [(1.0, false), (0.0, true)] {
        let d = Distill {
            teacher: PathBuf::from("unused"),
            weight,
            temperature: 3.0,
            keep: None,
        };
        let teacher = Teacher {
            model: &teacher,
            keep: None,
            distill: &d,
        };
        let moved = distilled_step_moves(&px, &labels, &[], 8, teacher);
        assert_eq!(moved > 1e-6, moves, "weight {weight}: moved {moved}");
    }
}

/// Learning without forgetting: MNIST's images follow `keep`, the extra digits the teacher.
/// With a `keep` identical to the student and every image MNIST's, a teacher that differs
/// moves nothing; marked as extra digits, the same images follow that teacher and move it.
#[test]
fn mnist_images_are_distilled_from_keep_and_extra_digits_from_the_teacher() {
    let (px, labels) = images(8, 6);
    let arch = Arch::Strided.config();
    let (other, _) = Model::fresh(&arch, 11, &Device::Cpu).unwrap();
    let (same, _) = Model::fresh(&arch, 4, &Device::Cpu).unwrap();
    let d = Distill {
        teacher: PathBuf::from("unused"),
        weight: 1.0,
        temperature: 3.0,
        keep: Some(PathBuf::from("unused")),
    };
    for (mnist, moves) in [(true, false), (false, true)] {
        let teacher = Teacher {
            model: &other,
            keep: Some(&same),
            distill: &d,
        };
        let moved = distilled_step_moves(&px, &labels, &[mnist; 8], 4, teacher);
        assert_eq!(moved > 1e-6, moves, "MNIST's: {mnist}, moved {moved}");
    }
}

#[test]
fn a_mark_that_is_not_a_digit_is_trained_towards_equal_odds() {
    let d = Device::Cpu;
    let logits = Tensor::new(&[[2.0f32, 0.5, -1.0], [0.1, 0.2, 0.3]], &d).unwrap();
    let value = |t: Tensor| t.to_scalar::<f32>().unwrap();
    let ls = log_softmax(&logits, 1).unwrap().to_vec2::<f32>().unwrap();
    // Digits only: plain cross-entropy.
    let ce = value(labels_loss(&logits, &[0, 2], &d).unwrap());
    assert!((ce - -(ls[0][0] + ls[1][2]) / 2.0).abs() < 1e-6, "{ce}");
    // A mark: minus the mean log-probability over the classes, averaged with the digit.
    let mixed = value(labels_loss(&logits, &[0, NOT_A_DIGIT], &d).unwrap());
    let uniform = -ls[1].iter().sum::<f32>() / 3.0;
    assert!(
        (mixed - (-ls[0][0] + uniform) / 2.0).abs() < 1e-6,
        "{mixed}"
    );
}

#[test]
fn validation_rejects_nonsense() {
    let ok = TrainConfig::default();
    assert!(ok.validate().is_ok());
    for bad in [
        TrainConfig {
            epochs: 0,
            ..ok.clone()
        },
        TrainConfig {
            accumulate: 65,
            ..ok.clone()
        },
        TrainConfig {
            lr: -1.0,
            ..ok.clone()
        },
    ] {
        assert!(bad.validate().is_err());
    }
}

/// Counts what a run reports: tasks started and units done.
#[derive(Debug, Default)]
struct Counted(std::sync::Mutex<(Vec<String>, u64)>);

struct CountedTask<'a>(&'a Counted);

impl Progress for &'static Counted {
    fn start(&self, what: &str, _: u64, _: Unit) -> Box<dyn crate::progress::Task> {
        self.0.lock().unwrap().0.push(what.to_string());
        Box::new(CountedTask(self))
    }
}

impl crate::progress::Task for CountedTask<'_> {
    fn advance(&self, n: u64) {
        self.0 .0.lock().unwrap().1 += n;
    }
    fn note(&self, _: &str) {}
    fn aside(&self, f: &mut dyn FnMut()) {
        f()
    }
}

#[test]
fn a_run_reports_every_epoch_and_step_to_its_progress() {
    let dir = tempfile::tempdir().unwrap();
    let arch = crate::model::ArchConfig::Strided(crate::model::StridedConfig {
        conv1: 2,
        conv2: 2,
        hidden: 4,
    });
    let data = tiny_mnist(50, 2);
    let config = TrainConfig {
        arch,
        epochs: 2,
        batch: 20,
        augment: None,
        ..TrainConfig::default()
    };
    let counted: &'static Counted = Box::leak(Box::default());
    let opts = RunOptions {
        out: dir.path().join("run"),
        resume: false,
        device: Device::Cpu,
        eval_batch: 25,
        progress: std::sync::Arc::new(counted),
    };
    train(config, &data, &opts).unwrap();
    let (tasks, steps) = counted.0.lock().unwrap().clone();
    // 50 images in batches of 20: three steps an epoch.
    assert_eq!(tasks, ["epoch 1/2", "epoch 2/2"]);
    assert_eq!(steps, 6);
}

/// Augmented batches are made on a thread of their own (issue 18): they must be the very
/// batches, in the same order, that one thread drawing from the epoch's generator makes, or a
/// resumed run would no longer repeat the uninterrupted one.
#[test]
fn issue18_prefetched_batches_are_the_ones_one_thread_draws() {
    let set = tiny_mnist(150, 3).train;
    let order: Vec<usize> = (0..set.len()).rev().collect();
    let how = crate::data::augment::AugmentConfig::default();
    let mut rng = epoch_rng(5, 1, 1);
    // The first 100 images stand for MNIST's, the other 50 for extra digits.
    let alone: Vec<Batch> = order
        .chunks(32)
        .map(|idx| {
            let images = batch_images(&set, idx, Some(&how), &mut rng);
            (
                images,
                idx.iter().map(|&i| set.labels[i]).collect(),
                idx.iter().map(|&i| i < 100).collect(),
            )
        })
        .collect();
    let ahead: Vec<Batch> = std::thread::scope(|scope| {
        prefetch(scope, &set, &order, 100, 32, Some(&how), epoch_rng(5, 1, 1))
            .iter()
            .collect()
    });
    assert_eq!(alone.len(), 5);
    assert_eq!(ahead, alone);
    // The augmentation did change the pixels, so the comparison says something.
    assert_ne!(alone[0].0[..PIXELS], set.image(order[0])[..]);
}

/// A receiver dropped before the epoch's end (a step failed) stops the thread, so the scope
/// that waits for it returns.
#[test]
fn issue18_a_failed_step_stops_the_prefetching_thread() {
    let set = tiny_mnist(400, 4).train;
    let order: Vec<usize> = (0..set.len()).collect();
    let got = std::thread::scope(|scope| {
        let rx = prefetch(scope, &set, &order, 400, 8, None, epoch_rng(1, 0, 1));
        rx.recv().map(|b| b.1.len())
    });
    assert_eq!(got, Ok(8));
}
