//! Unit tests of [`super`] on literal arrays.
use super::*;

fn layer(cin: usize, cout: usize, k: usize, stride: usize, dilation: usize, relu: bool) -> LayerSpec {
    LayerSpec::conv(cin, cout, k, stride, dilation, relu)
}

#[test]
fn identity_kernel_copies_input() {
    // 1 channel, 3x3 kernel with 1 at the centre, zero bias.
    let l = layer(1, 1, 3, 1, 1, false);
    let mut w = vec![0.0; 10];
    w[4] = 1.0;
    let x = Tensor {
        h: 2,
        w: 3,
        c: 1,
        data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    };
    assert_eq!(conv_forward(&x, &l, &w, false).data, x.data);
}

#[test]
fn box_kernel_sums_neighbours_with_zero_padding() {
    let l = layer(1, 1, 3, 1, 1, false);
    let mut w = vec![1.0; 10];
    w[9] = 0.5; // bias
    let x = Tensor {
        h: 2,
        w: 2,
        c: 1,
        data: vec![1.0, 2.0, 3.0, 4.0],
    };
    assert_eq!(conv_forward(&x, &l, &w, false).data, vec![10.5; 4]);
}

#[test]
fn stride_two_halves_and_dilation_reaches_far() {
    let l = layer(1, 1, 3, 2, 1, false);
    assert_eq!(l.out_dims(5, 4), (3, 2));
    // Dilation 2: the corner taps of pixel (2,2) are (0,0), (0,4), (4,0), (4,4).
    let l2 = layer(1, 1, 3, 1, 2, false);
    let mut w = vec![0.0; 10];
    w[0] = 1.0; // tap (-2, -2)
    let mut x = Tensor::zeros(5, 5, 1);
    x.data[0] = 7.0;
    let y = conv_forward(&x, &l2, &w, false);
    assert_eq!(y.data[2 * 5 + 2], 7.0);
    assert_eq!(y.data.iter().filter(|&&v| v != 0.0).count(), 1);
}

/// Finite differences agree with the analytic gradient (weights and input).
#[test]
fn gradient_matches_finite_differences() {
    let layers = [
        layer(2, 3, 3, 2, 1, true),
        layer(3, 2, 3, 1, 2, true),
        layer(2, 1, 1, 1, 1, false),
    ];
    let n: usize = layers.iter().map(|l| l.n_params()).sum();
    let mut s = 12345u64;
    let mut rnd = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let weights: Vec<f32> = (0..n).map(|_| rnd()).collect();
    let x = Tensor {
        h: 7,
        w: 6,
        c: 2,
        data: (0..84).map(|_| rnd()).collect(),
    };
    // Loss = sum of the last output times fixed coefficients.
    let outs = forward_all(&x, &layers, &weights, false);
    let last = outs.last().unwrap();
    let coef: Vec<f32> = (0..last.data.len()).map(|i| 1.0 + i as f32 * 0.1).collect();
    let loss = |w: &[f32]| -> f64 {
        let y = forward(&x, &layers, w, false);
        y.data
            .iter()
            .zip(&coef)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    };
    let dlast = Tensor {
        data: coef.clone(),
        ..last.clone()
    };
    let g = backward_all(&x, &outs, dlast, &layers, &weights);
    let mut checked = 0;
    for i in (0..n).step_by(7) {
        let eps = 1e-2f32;
        let mut wp = weights.clone();
        wp[i] += eps;
        let mut wm = weights.clone();
        wm[i] -= eps;
        let num = (loss(&wp) - loss(&wm)) / (2.0 * eps as f64);
        assert!(
            (num - g[i] as f64).abs() < 2e-2 * (1.0 + num.abs()),
            "weight {i}: numeric {num} analytic {}",
            g[i]
        );
        checked += 1;
    }
    assert!(checked > 10);
}

/// The same check through an encoder-decoder with upsampling and a skip concat.
#[test]
fn graph_gradient_matches_finite_differences() {
    let mut up = layer(3, 3, 0, 1, 1, false);
    up.op = Op::Up2;
    up.from = 0;
    let mut cat = layer(3, 5, 0, 1, 1, false);
    cat.op = Op::Concat;
    cat.from = 0;
    let layers = [
        layer(2, 2, 3, 2, 1, true),
        layer(2, 3, 3, 2, 1, true),
        up,
        cat,
        layer(5, 2, 3, 1, 1, false),
    ];
    let n: usize = layers.iter().map(|l| l.n_params()).sum();
    let weights: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 97) as f32 / 97.0 - 0.5) * 0.9)
        .collect();
    let x = Tensor {
        h: 9,
        w: 7,
        c: 2,
        data: (0..126).map(|i| ((i * 31 % 53) as f32 / 53.0) - 0.3).collect(),
    };
    let outs = forward_all(&x, &layers, &weights, false);
    let last = outs.last().unwrap().clone();
    assert_eq!((last.h, last.w), (5, 4));
    assert_eq!(forward(&x, &layers, &weights, true), last);
    // Buffers reused from a pool (zeroed again on reuse) give the same output.
    let mut pool = Pool::default();
    for _ in 0..Pool::KEEP {
        pool.give(Tensor {
            h: 1,
            w: 1,
            c: 1,
            data: vec![f32::NAN; 1000],
        });
    }
    assert_eq!(forward_in(&x, &layers, &weights, true, &mut pool), last);
    assert_eq!(forward_in(&x, &layers, &weights, false, &mut pool), last);
    let coef: Vec<f32> = (0..last.data.len()).map(|i| 0.5 + (i % 5) as f32 * 0.3).collect();
    let loss = |w: &[f32]| -> f64 {
        let y = forward(&x, &layers, w, false);
        y.data
            .iter()
            .zip(&coef)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    };
    let g = backward_all(
        &x,
        &outs,
        Tensor {
            data: coef.clone(),
            ..last
        },
        &layers,
        &weights,
    );
    for i in (0..n).step_by(3) {
        let eps = 1e-2f32;
        let (mut wp, mut wm) = (weights.clone(), weights.clone());
        wp[i] += eps;
        wm[i] -= eps;
        let num = (loss(&wp) - loss(&wm)) / (2.0 * eps as f64);
        assert!(
            (num - g[i] as f64).abs() < 3e-2 * (1.0 + num.abs()),
            "weight {i}: numeric {num} analytic {}",
            g[i]
        );
    }
}

#[test]
fn parallel_equals_serial() {
    let l = layer(3, 16, 3, 1, 2, true);
    let w: Vec<f32> = (0..l.n_params())
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 70.0)
        .collect();
    let x = Tensor {
        h: 33,
        w: 21,
        c: 3,
        data: (0..33 * 21 * 3).map(|i| ((i * 13 % 29) as f32) / 29.0).collect(),
    };
    assert_eq!(conv_forward(&x, &l, &w, false), conv_forward(&x, &l, &w, true));
}

mod gemm_against_reference {
    use super::super::super::conv::reference;
    use super::*;
    use proptest::prelude::*;

    fn close(a: &[f32], b: &[f32]) -> Result<(), TestCaseError> {
        prop_assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            prop_assert!(
                (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                "element {}: {} vs {}",
                i,
                x,
                y
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The blocked forward and the im2col + SGEMM gradients equal the plain loops
        /// (to rounding) for every kernel, stride, dilation and shape (`cin` 3, 16, 32 and
        /// 48 take the constant-width gathers and scatters, the others the general ones).
        #[test]
        fn forward_and_backward(
            cin in prop::sample::select(vec![1usize, 2, 3, 4, 5, 16, 32, 48]), cout in prop::sample::select(vec![1usize, 2, 3, 8, 16, 24, 32, 48]), k in prop::sample::select(vec![1usize, 3]),
            stride in 1usize..3, dilation in 1usize..4, relu: bool,
            h in 1usize..13, w in 1usize..24, seed in 0u64..1000,
        ) {
            let l = layer(cin, cout, k, stride, dilation, relu);
            let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
            let mut rnd = || {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            };
            let wts: Vec<f32> = (0..l.n_params()).map(|_| rnd()).collect();
            let x = Tensor { h, w, c: cin, data: (0..h * w * cin).map(|_| rnd()).collect() };
            let y = conv_forward(&x, &l, &wts, false);
            let yr = reference::conv_forward(&x, &l, &wts);
            prop_assert_eq!((y.h, y.w, y.c), (yr.h, yr.w, yr.c));
            close(&y.data, &yr.data)?;
            prop_assert_eq!(&y, &conv_forward(&x, &l, &wts, true));
            let dy = Tensor { data: (0..y.data.len()).map(|_| rnd()).collect(), ..y.clone() };
            let mut dw = vec![0.0f32; wts.len()];
            let dx = conv_backward(&x, &y, &dy, &l, &wts, &mut dw);
            let (dxr, dwr) = reference::conv_backward(&x, &y, &dy, &l, &wts);
            close(&dx.data, &dxr.data)?;
            close(&dw, &dwr)?;
            // The first layer's pass without the input gradient: the same bits of dw.
            let mut dw_only = vec![0.0f32; wts.len()];
            conv_weight_gradient(&x, &y, &dy, &l, &wts, &mut dw_only);
            prop_assert_eq!(dw_only.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), dw.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
    }
}

/// Blocks of pixels split across threads give the same bits as one block after another,
/// on an input larger than one GEMM block.
#[test]
fn parallel_equals_serial_across_blocks() {
    let l = layer(8, 12, 3, 1, 1, true);
    let w: Vec<f32> = (0..l.n_params())
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 70.0)
        .collect();
    let x = Tensor {
        h: 150,
        w: 70,
        c: 8,
        data: (0..150 * 70 * 8).map(|i| ((i * 13 % 29) as f32) / 29.0).collect(),
    };
    assert_eq!(conv_forward(&x, &l, &w, false), conv_forward(&x, &l, &w, true));
}
