//! Voltage-gated channels of the Bahl et al. (2012) reduced L5 pyramidal
//! cell, at 37 °C with each channel's own temperature factor. Gates are
//! advanced by exponential Euler (exact for a voltage held over the step).

use serde::{Deserialize, Serialize};

/// Temperature factor q10^((T − T_ref)/10).
fn tadj(q10: f64, celsius: f64, t_ref: f64) -> f64 {
    q10.powf((celsius - t_ref) / 10.0)
}

/// a·(v − th)/(1 − exp(−(v − th)/q)) with its limit a·q at v = th.
fn trap0(v: f64, th: f64, a: f64, q: f64) -> f64 {
    let x = v - th;
    if x.abs() < 1e-6 {
        a * q
    } else {
        a * x / (1.0 - (-x / q).exp())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Transient Na+ (m³h).
    Nat,
    /// Fast K+ (n).
    Kfast,
    /// Slow K+ (a²·(b + b1)/2).
    Kslow,
    /// Persistent Na+ (m).
    Nap,
    /// M-type K+ (m).
    Km,
    /// Hyperpolarisation-activated cation current (q).
    Ih,
}

/// Which reversal potential a channel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ion {
    Na,
    K,
    H,
}

impl ChannelKind {
    /// Every kind, in `index` order.
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::Nat,
        ChannelKind::Kfast,
        ChannelKind::Kslow,
        ChannelKind::Nap,
        ChannelKind::Km,
        ChannelKind::Ih,
    ];

    pub fn from_name(name: &str) -> Option<ChannelKind> {
        Some(match name {
            "nat" => ChannelKind::Nat,
            "kfast" => ChannelKind::Kfast,
            "kslow" => ChannelKind::Kslow,
            "nap" => ChannelKind::Nap,
            "km" => ChannelKind::Km,
            "ih" => ChannelKind::Ih,
            _ => return None,
        })
    }

    pub fn ion(self) -> Ion {
        match self {
            ChannelKind::Nat | ChannelKind::Nap => Ion::Na,
            ChannelKind::Kfast | ChannelKind::Kslow | ChannelKind::Km => Ion::K,
            ChannelKind::Ih => Ion::H,
        }
    }

    /// Steady states and time constants (ms) of up to three gates at the
    /// shifted voltage v.
    pub fn rates(self, v: f64, celsius: f64) -> [(f64, f64); 3] {
        const NONE: (f64, f64) = (0.0, 1.0);
        match self {
            ChannelKind::Nat => {
                let k = tadj(2.3, celsius, 23.0);
                let (am, bm) = (trap0(v, -28.0, 0.182, 9.0), trap0(-v, 28.0, 0.124, 9.0));
                let (ah, bh) = (trap0(v, -50.0, 0.024, 5.0), trap0(-v, 75.0, 0.0091, 5.0));
                let hinf = 1.0 / (1.0 + ((v + 55.0) / 6.2).exp());
                [(am / (am + bm), 1.0 / k / (am + bm)), (hinf, 1.0 / k / (ah + bh)), NONE]
            }
            ChannelKind::Kfast => {
                let k = tadj(2.3, celsius, 23.0);
                let a = trap0(v, 25.0, 0.02, 9.0);
                let b = trap0(-v, -25.0, 0.002, 9.0);
                [(a / (a + b), 1.0 / k / (a + b)), NONE, NONE]
            }
            ChannelKind::Kslow => {
                let alpha = trap0(v, 11.1, 0.0052, 13.1);
                // The fitted closing rate dips below 0 above about +90 mV
                // (a6 < 0), which would put a∞ above 1: floor it at 0.
                let beta = (0.01938 * (-(v + 1.27) / 71.0).exp() - 0.0053).max(0.0);
                let taub = 360.0 + (1010.0 + 23.7 * (v + 54.0)) * (-(v + 75.0).powi(2) / (48.0 * 48.0)).exp();
                // The published fit turns negative below about −117 mV, where
                // it would make the gate grow without bound: floor it at 1 ms.
                let taub1 = (2350.0 + 1380.0 * (-0.01118 * v).exp() - 210.0 * (-0.0306 * v).exp()).max(1.0);
                let binf = 1.0 / (1.0 + ((v + 58.0) / 11.0).exp());
                [
                    (alpha / (alpha + beta), 1.0 / (alpha + beta)),
                    (binf, taub),
                    (binf, taub1),
                ]
            }
            ChannelKind::Nap => {
                let minf = 1.0 / (1.0 + ((-v - 48.0) / 10.0).exp());
                let mtau = if v < -40.0 {
                    0.025 + 0.14 * ((v + 40.0) / 10.0).exp()
                } else {
                    0.02 + 0.145 * ((-v - 40.0) / 10.0).exp()
                };
                [(minf, mtau), NONE, NONE]
            }
            ChannelKind::Km => {
                let tau_peak = 1000.0 / tadj(2.3, celsius, 36.0);
                let x = v + 35.0;
                let minf = 1.0 / (1.0 + (-x / 10.0).exp());
                [
                    (minf, tau_peak / (3.3 * (x / 20.0).exp() + (-x / 20.0).exp())),
                    NONE,
                    NONE,
                ]
            }
            ChannelKind::Ih => {
                // 6.43e-3·x/(exp(x/11.9) − 1), x = v + 154.9, with its limit at x = 0.
                let x = v + 154.9;
                let alpha = if x.abs() < 1e-6 {
                    0.001 * 6.43 * 11.9
                } else {
                    0.001 * 6.43 * x / ((x / 11.9).exp() - 1.0)
                };
                let beta = 0.001 * 193.0 * (v / 33.1).exp();
                [(alpha / (alpha + beta), 1.0 / (alpha + beta)), NONE, NONE]
            }
        }
    }

    /// Conductance temperature factor (nat and kfast scale gbar by tadj).
    pub fn conductance_factor(self, celsius: f64) -> f64 {
        match self {
            ChannelKind::Nat | ChannelKind::Kfast => tadj(2.3, celsius, 23.0),
            ChannelKind::Kslow => tadj(2.3, celsius, 21.0),
            ChannelKind::Nap | ChannelKind::Km | ChannelKind::Ih => 1.0,
        }
    }

    /// Open fraction of the gates.
    #[inline]
    pub fn open(self, g: &[f64; 3]) -> f64 {
        match self {
            ChannelKind::Nat => g[0] * g[0] * g[0] * g[1],
            ChannelKind::Kslow => g[0] * g[0] * 0.5 * (g[1] + g[2]),
            _ => g[0],
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn gate_count(self) -> usize {
        match self {
            ChannelKind::Nat => 2,
            ChannelKind::Kslow => 3,
            _ => 1,
        }
    }
}

/// One channel population in one compartment.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub kind: ChannelKind,
    pub compartment: usize,
    /// Maximal conductance (µS) of the compartment.
    pub gbar_us: f64,
    /// Total voltage shift (mV) subtracted before the rate functions.
    pub vshift_mv: f64,
    /// Conductance temperature factor at the cell's temperature.
    pub g_factor: f64,
}

impl Channel {
    pub fn steady_gates(&self, v: f64, celsius: f64) -> [f64; 3] {
        let r = self.kind.rates(v - self.vshift_mv, celsius);
        [r[0].0, r[1].0, r[2].0]
    }

    /// Conductance (µS) for the given gates.
    #[inline]
    pub fn conductance(&self, gates: &[f64; 3]) -> f64 {
        self.gbar_us * self.g_factor * self.kind.open(gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_lie_in_unit_interval_and_taus_are_positive() {
        for kind in ChannelKind::ALL {
            for i in 0..=220 {
                let v = -120.0 + i as f64;
                for (inf, tau) in kind.rates(v, 37.0).iter().take(kind.gate_count()) {
                    assert!((0.0..=1.0).contains(inf), "{kind:?} inf {inf} at {v}");
                    assert!(*tau > 0.0 && tau.is_finite(), "{kind:?} tau {tau} at {v}");
                }
            }
        }
    }

    #[test]
    fn removable_singularities_are_continuous() {
        // kfast at v = 25 mV, ih at v = −154.9 mV, nat m at v = −28 mV.
        for (kind, v) in [
            (ChannelKind::Kfast, 25.0),
            (ChannelKind::Ih, -154.9),
            (ChannelKind::Nat, -28.0),
        ] {
            let at = kind.rates(v, 37.0)[0];
            let near = kind.rates(v + 1e-4, 37.0)[0];
            assert!(
                (at.0 - near.0).abs() < 1e-4 && (at.1 - near.1).abs() / at.1 < 1e-3,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn activation_midpoints_match_the_published_kinetics() {
        // Ih opens on hyperpolarisation.
        let ih = |v: f64| ChannelKind::Ih.rates(v, 37.0)[0].0;
        // q∞(−120) = 0.0126/(0.0126 + 0.0051) ≈ 0.71; q∞(−40) ≈ 8e-4.
        assert!((ih(-120.0) - 0.71).abs() < 0.01 && ih(-40.0) < 1e-3);
        // km: m∞(−35) = 0.5 exactly.
        assert!((ChannelKind::Km.rates(-35.0, 37.0)[0].0 - 0.5).abs() < 1e-12);
        // nap: m∞(−48) = 0.5 exactly.
        assert!((ChannelKind::Nap.rates(-48.0, 37.0)[0].0 - 0.5).abs() < 1e-12);
        // nat: h∞(−55) = 0.5 exactly.
        assert!((ChannelKind::Nat.rates(-55.0, 37.0)[1].0 - 0.5).abs() < 1e-12);
    }
}
