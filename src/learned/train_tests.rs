//! Unit tests of [`super`] on literal arrays.
use super::*;
use crate::learned::frames::LBox;

/// A 400 px frame (160 m at 0.4 m) with one labelled vehicle in a corner.
fn frame(incomplete: bool) -> Frame {
    Frame {
        name: "literal".into(),
        img: Tensor::zeros(400, 400, 3),
        boxes: vec![LBox {
            x: 20.0,
            y: 20.0,
            len_m: 7.0,
            short_m: 3.5,
            horizontal: true,
        }],
        incomplete,
    }
}

/// The negative-loss weights of sample 0 of step 0 (no pasted or rendered vehicles).
fn neg_w(f: Frame, weight: f32) -> Vec<f32> {
    let o = TrainOptions {
        paste_probability: 0.0,
        render_probability: 0.0,
        incomplete_negative_weight: weight,
        ..TrainOptions::default()
    };
    make_sample(&[f], &o, 2, &mut SplitMix64::new(7)).neg_w
}

#[test]
fn unboxed_ground_of_incomplete_frames_gets_the_chosen_negative_weight() {
    let distinct = |w: &[f32]| {
        let mut v: Vec<f32> = w.to_vec();
        v.sort_by(f32::total_cmp);
        v.dedup();
        v
    };
    // Complete labels: every cell is a full negative.
    assert_eq!(distinct(&neg_w(frame(false), 0.0)), vec![1.0]);
    // Incomplete labels: never taught as ground with weight 0 ...
    assert_eq!(distinct(&neg_w(frame(true), 0.0)), vec![0.0]);
    // ... and 0.3 away from labelled vehicles otherwise (0 near them, when the
    // patch holds one).
    let w = distinct(&neg_w(frame(true), 0.3));
    assert!(w == vec![0.0, 0.3] || w == vec![0.3], "{w:?}");
}

#[test]
fn models_from_before_the_option_read_back_the_weight_they_used() {
    let mut v = serde_json::to_value(TrainOptions::default()).expect("serialise");
    v.as_object_mut()
        .expect("object")
        .remove("incomplete_negative_weight");
    let o: TrainOptions = serde_json::from_value(v).expect("deserialise");
    assert_eq!(o.incomplete_negative_weight, 0.3);
}
