//! Bistable efficacy ρ, its expression into Use and Ĝ_AMPA, and the initial
//! state rules (SPEC §2.6, §2.8).

use super::RuleVariant;

/// Induction time constant τ_ind (ms).
pub const TAU_IND_MS: f64 = 70_000.0;
/// Unstable fixed point ρ*.
pub const RHO_STAR: f64 = 0.5;
/// Expression time constant τ_exp (ms).
pub const TAU_EXP_MS: f64 = 100_000.0;
/// Exponent ν of the Use bounds.
const NU: f64 = 0.2;

/// Fractions of a step during which the depression and potentiation
/// indicators are on (1 or 0 away from a threshold crossing).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IndicatorWeights {
    pub depression: f64,
    pub potentiation: f64,
}

impl IndicatorWeights {
    /// Indicators at one value of c*.
    pub fn at(c: f64, theta_d: f64, theta_p: f64, variant: RuleVariant) -> Self {
        Self::over_step(c, c, theta_d, theta_p, variant)
    }

    /// Indicators averaged over a step in which c* moves linearly from c0
    /// to c1: a crossing inside the step counts for the part above.
    pub fn over_step(c0: f64, c1: f64, theta_d: f64, theta_p: f64, variant: RuleVariant) -> Self {
        let above = (fraction_above(c0, c1, theta_d), fraction_above(c0, c1, theta_p));
        Self::from_fractions(above, theta_d, theta_p, variant)
    }

    /// Indicators given the fractions of a step during which c* is above
    /// θd and above θp.
    pub fn from_fractions((above_d, above_p): (f64, f64), theta_d: f64, theta_p: f64, variant: RuleVariant) -> Self {
        let depression = match variant {
            RuleVariant::Paper => above_d,
            // {θd < c ≤ θp} is {c > θd} less {c > θp} when θp ≥ θd, else empty.
            RuleVariant::Exclusive if theta_p >= theta_d => (above_d - above_p).max(0.0),
            RuleVariant::Exclusive => 0.0,
        };
        IndicatorWeights {
            depression,
            potentiation: above_p,
        }
    }
}

fn fraction_above(c0: f64, c1: f64, theta: f64) -> f64 {
    match (c0 > theta, c1 > theta) {
        (true, true) => 1.0,
        (false, false) => 0.0,
        (true, false) => (c0 - theta) / (c0 - c1),
        (false, true) => (c1 - theta) / (c1 - c0),
    }
}

/// The efficacy ρ ∈ [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Efficacy {
    pub rho: f64,
}

impl Efficacy {
    /// dρ/dt (1/ms) for given rates and indicator weights.
    pub fn derivative(rho: f64, gamma_d: f64, gamma_p: f64, w: IndicatorWeights) -> f64 {
        (-rho * (1.0 - rho) * (RHO_STAR - rho) + gamma_p * (1.0 - rho) * w.potentiation - gamma_d * rho * w.depression)
            / TAU_IND_MS
    }

    /// Explicit midpoint step (second order: first-order Euler drifts by
    /// ~1e-5 in ρ over an induction).
    pub fn midpoint_step(&mut self, h: f64, gamma_d: f64, gamma_p: f64, w: IndicatorWeights) {
        let k1 = Self::derivative(self.rho, gamma_d, gamma_p, w);
        let k2 = Self::derivative(self.rho + 0.5 * h * k1, gamma_d, gamma_p, w);
        self.rho = (self.rho + h * k2).clamp(0.0, 1.0);
    }

    /// ρ after `h` ms with both indicators off, exactly: with x = ρ − ρ*
    /// and ρ* = ½, y = x² grows logistically, y' = y(¼ − y)·2/τ_ind, so
    /// y(h) = ¼ / (1 + (¼/y₀ − 1)·exp(−h/2τ_ind)) and x keeps its sign.
    pub fn relaxed(rho: f64, h: f64) -> f64 {
        const _: () = assert!(RHO_STAR == 0.5, "the closed form assumes ρ* = ½");
        let x = rho - RHO_STAR;
        if h <= 0.0 || x == 0.0 || rho == 0.0 || rho == 1.0 {
            return rho;
        }
        // ¼/x² − 1, written ρ(1 − ρ)/x² to keep its precision near 0 and 1.
        let q = rho * (1.0 - rho) / (x * x);
        (RHO_STAR + 0.5_f64.copysign(x) / (1.0 + q * (-h / (2.0 * TAU_IND_MS)).exp()).sqrt()).clamp(0.0, 1.0)
    }

    /// ρ after `h` ms of constant indicators, by `steps` fifth-order
    /// Taylor steps: dρ/dt = f(ρ) is a cubic, so ρ's time derivatives
    /// follow from f, f′, f″ and f‴ at the step's start, independent of one
    /// another (a Runge–Kutta step chains four evaluations of f). Steps of
    /// λ·Δt ≤ 0.15, λ bounding |f′|, err by < 1e-7 over 2 s at the box's
    /// largest rates (see the tests).
    pub fn flow(rho: f64, h: f64, steps: usize, gamma_d: f64, gamma_p: f64, w: IndicatorWeights) -> f64 {
        // −ρ(1−ρ)(ρ*−ρ) + γp·P·(1−ρ) − γd·D·ρ, expanded.
        let (p, d) = (gamma_p * w.potentiation, gamma_d * w.depression);
        let k = 1.0 / TAU_IND_MS;
        let (c3, c2, c1, c0) = (-k, (1.0 + RHO_STAR) * k, -(RHO_STAR + p + d) * k, p * k);
        let dt = h / steps as f64;
        let mut rho = rho;
        for _ in 0..steps {
            let r2 = rho * rho;
            // q = Δt·f, a = Δt·f′, b = Δt·f″, c = Δt·f‴.
            let q = dt * ((c3 * rho + c2) * r2 + (c1 * rho + c0));
            let a = dt * (3.0 * c3 * r2 + (2.0 * c2 * rho + c1));
            let b = dt * (6.0 * c3 * rho + 2.0 * c2);
            let c = dt * 6.0 * c3;
            let (a2, q2) = (a * a, q * q);
            // Δt^n·ρ⁽ⁿ⁾/n! for n = 1…5, each a multiple of q.
            let t3 = (b * q + a2) * (1.0 / 6.0);
            let t4 = (c * q2 + 4.0 * a * b * q + a2 * a) * (1.0 / 24.0);
            let t5 = (q2 * (7.0 * c * a + 4.0 * b * b) + 11.0 * b * a2 * q + a2 * a2) * (1.0 / 120.0);
            rho = (rho + q * ((1.0 + 0.5 * a) + (t3 + (t4 + t5)))).clamp(0.0, 1.0);
        }
        rho
    }

    /// The state ρ settles to once no threshold can be crossed any more.
    pub fn settled(&self) -> f64 {
        if self.rho > RHO_STAR {
            1.0
        } else {
            0.0
        }
    }
}

/// Expressed synaptic strength: Ĝ_AMPA and Use with their ρ-dependent bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expression {
    pub g_ampa_ns: f64,
    pub use_: f64,
    pub g_d: f64,
    pub g_p: f64,
    pub u_d: f64,
    pub u_p: f64,
}

impl Expression {
    /// Targets (Ĝ_AMPA, Use) for efficacy ρ.
    pub fn target(&self, rho: f64) -> (f64, f64) {
        (
            self.g_d + rho * (self.g_p - self.g_d),
            self.u_d + rho * (self.u_p - self.u_d),
        )
    }

    /// Exact relaxation over h with ρ held at `rho`.
    pub fn relax(&mut self, rho: f64, h: f64) {
        self.relax_by(rho, (-h / TAU_EXP_MS).exp());
    }

    /// Relaxation with a precomputed factor exp(−h/τ_exp).
    pub fn relax_by(&mut self, rho: f64, decay: f64) {
        let (g, u) = self.target(rho);
        self.g_ampa_ns = g + (self.g_ampa_ns - g) * decay;
        self.use_ = u + (self.use_ - u) * decay;
    }

    /// Jump to the targets of ρ (the settled state of SPEC §5.3 step 3).
    pub fn settle(&mut self, rho: f64) {
        let (g, u) = self.target(rho);
        self.g_ampa_ns = g;
        self.use_ = u;
    }
}

/// Sampled initial values U0, G0 and ρ0 (SPEC §2.8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InitialState {
    pub u0: f64,
    pub g0_ns: f64,
    pub potentiated: bool,
}

impl InitialState {
    pub fn new(u0: f64, g0_ns: f64, potentiated: bool) -> Self {
        InitialState { u0, g0_ns, potentiated }
    }

    pub fn rho0(&self) -> f64 {
        if self.potentiated {
            1.0
        } else {
            0.0
        }
    }

    /// Expression bounds and start values; Use and its bounds are scaled by
    /// the [Ca2+]o factor and clipped at 1.
    pub fn expression(&self, u_factor: f64) -> Expression {
        let (g_d, g_p, u_d, u_p) = if self.potentiated {
            (0.5 * self.g0_ns, self.g0_ns, self.u0.powf(1.0 / NU), self.u0)
        } else {
            (self.g0_ns, 2.0 * self.g0_ns, self.u0, self.u0.powf(NU))
        };
        let scale = |u: f64| (u * u_factor).min(1.0);
        Expression {
            g_ampa_ns: self.g0_ns,
            use_: scale(self.u0),
            g_d,
            g_p,
            u_d: scale(u_d),
            u_p: scale(u_p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_state_bounds_follow_rho0() {
        let depressed = InitialState::new(0.5, 1.0, false).expression(1.0);
        assert_eq!((depressed.g_d, depressed.g_p), (1.0, 2.0));
        assert!((depressed.u_p - 0.5f64.powf(0.2)).abs() < 1e-15);
        assert_eq!(depressed.target(0.0), (1.0, 0.5));
        let potentiated = InitialState::new(0.5, 1.0, true).expression(1.0);
        assert_eq!((potentiated.g_d, potentiated.g_p), (0.5, 1.0));
        assert!((potentiated.u_d - 0.5f64.powi(5)).abs() < 1e-15);
        // Start values sit at the target of ρ0: no drift without induction.
        assert_eq!(potentiated.target(1.0), (1.0, 0.5));
    }

    #[test]
    fn calcium_factor_scales_and_clips_use() {
        let e = InitialState::new(0.7, 1.0, false).expression(1.88);
        assert!((e.use_ - 1.0).abs() < 1e-15 && (e.u_p - 1.0).abs() < 1e-15);
        let e = InitialState::new(0.5, 1.0, false).expression(0.158);
        assert!((e.use_ - 0.079).abs() < 1e-12);
    }

    #[test]
    fn rho_has_stable_points_at_0_and_1_and_unstable_at_half() {
        let none = IndicatorWeights::default();
        for rho in [0.0, 0.5, 1.0] {
            assert_eq!(Efficacy::derivative(rho, 100.0, 200.0, none), 0.0);
        }
        assert!(Efficacy::derivative(0.6, 100.0, 200.0, none) > 0.0);
        assert!(Efficacy::derivative(0.4, 100.0, 200.0, none) < 0.0);
    }

    #[test]
    fn indicators_paper_and_exclusive() {
        let w = IndicatorWeights::at(5.0, 1.0, 3.0, RuleVariant::Paper);
        assert_eq!((w.depression, w.potentiation), (1.0, 1.0));
        let w = IndicatorWeights::at(5.0, 1.0, 3.0, RuleVariant::Exclusive);
        assert_eq!((w.depression, w.potentiation), (0.0, 1.0));
        let w = IndicatorWeights::at(2.0, 1.0, 3.0, RuleVariant::Exclusive);
        assert_eq!((w.depression, w.potentiation), (1.0, 0.0));
        // Crossing θd = 1 halfway through a step from 0 to 2.
        let w = IndicatorWeights::over_step(0.0, 2.0, 1.0, 3.0, RuleVariant::Paper);
        assert!((w.depression - 0.5).abs() < 1e-15 && w.potentiation == 0.0);
    }

    #[test]
    fn relaxation_without_indicators_matches_fine_integration() {
        let none = IndicatorWeights::default();
        for rho in [0.0, 0.02, 0.3, 0.4999, 0.5, 0.5001, 0.77, 0.999_999, 1.0] {
            for h in [0.0f64, 3.0, 800.0, 40_000.0, 300_000.0] {
                // Classical Runge–Kutta, steps of ≤ 50 ms (error < 1e-14).
                let n = (h / 50.0).ceil().max(1.0) as usize;
                let dt = h / n as f64;
                let f = |r: f64| Efficacy::derivative(r, 0.0, 0.0, none);
                let fine = (0..n).fold(rho, |r, _| {
                    let k1 = f(r);
                    let k2 = f(r + 0.5 * dt * k1);
                    let k3 = f(r + 0.5 * dt * k2);
                    let k4 = f(r + dt * k3);
                    r + dt / 6.0 * (k1 + 2.0 * (k2 + k3) + k4)
                });
                let exact = Efficacy::relaxed(rho, h);
                assert!((exact - fine).abs() < 1e-13, "ρ {rho}, {h} ms: {exact} vs {fine}");
            }
        }
        // Far past τ_ind, ρ reaches the stable point on its side of ρ*.
        assert!(Efficacy::relaxed(0.51, 1e8) > 1.0 - 1e-12 && Efficacy::relaxed(0.49, 1e8) < 1e-12);
    }

    #[test]
    fn flow_matches_fine_integration_at_the_largest_rates() {
        // Reference: classical Runge–Kutta steps of ≤ 0.5 ms (error < 1e-13).
        let fine = |rho: f64, h: f64, gd: f64, gp: f64, w: IndicatorWeights| {
            let f = |r: f64| Efficacy::derivative(r, gd, gp, w);
            let n = (2.0 * h).ceil() as usize;
            let dt = h / n as f64;
            (0..n).fold(rho, |r, _| {
                let k1 = f(r);
                let k2 = f(r + 0.5 * dt * k1);
                let k3 = f(r + 0.5 * dt * k2);
                let k4 = f(r + dt * k3);
                r + dt / 6.0 * (k1 + 2.0 * (k2 + k3) + k4)
            })
        };
        let (gd, gp) = (200.0, 300.0);
        let whole = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)];
        let mut worst: f64 = 0.0;
        for (depression, potentiation) in whole {
            let w = IndicatorWeights {
                depression,
                potentiation,
            };
            let rate = (0.5 + gp * potentiation + gd * depression) / TAU_IND_MS;
            for rho in [0.0, 0.02, 0.3, 0.5001, 0.7, 0.98, 1.0] {
                for h in [5.0, 40.0, 300.0, 2000.0] {
                    let steps = (h * rate / 0.07).ceil().max(1.0) as usize;
                    let got = Efficacy::flow(rho, h, steps, gd, gp, w);
                    worst = worst.max((got - fine(rho, h, gd, gp, w)).abs());
                }
            }
        }
        // Four-stage Runge–Kutta steps at λ·Δt = 0.07 err by 6.5e-8 here.
        assert!(worst < 1e-7, "fifth-order steps err by {worst}");
        assert!(worst > 0.0, "the reference must differ somewhere");
    }
}
