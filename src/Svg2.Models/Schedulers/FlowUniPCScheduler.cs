using static TorchSharp.torch;

namespace Svg2.Models.Schedulers;

/// <summary>
/// UniPC multistep sampling for flow-matching models, as Wan 2.1 samples by default: B(h) = e^h - 1
/// ("bh2"), order 2 with a first-order start and first-order final step, predictor on the data
/// prediction x0 = x - sigma flow, and the UniC corrector after every step but the first.
/// </summary>
/// <remarks>
/// Noise levels follow Wan's FlowUniPCMultistepScheduler as its text-to-video loop builds it (trained
/// shift 1, sampling shift applied in set_timesteps): sigma_max = 0.999 and sigma_min = 0 from the 1000
/// training levels, steps levels from linspace(sigma_max, sigma_min, steps + 1) without the last,
/// shifted, then 0, rounded to float32; the model is fed floor(1000 sigma) as an integer timestep.
/// Coefficients are evaluated in float64 (the reference uses float32 scalars).
/// </remarks>
public sealed class FlowUniPCScheduler : IFlowScheduler
{
    const int SolverOrder = 2;

    readonly double[] _sigmas;
    readonly double[] _timesteps;
    readonly List<Tensor> _dataPredictions = [];
    Tensor? _lastSample;
    int _lastOrder;
    int _expectedStep;

    /// <summary>Creates the schedule.</summary>
    public FlowUniPCScheduler(int steps, double shift = FlowShift.WanDefault, int trainTimesteps = 1000)
    {
        if (steps < 1) throw new ArgumentException($"Step count must be at least 1 (got {steps}).");
        // The reference stores its training sigmas as float32 and reads the largest back.
        double sigmaMax = (float)(1.0 - 1.0 / trainTimesteps);
        const double sigmaMin = 0;
        _sigmas = new double[steps + 1];
        _timesteps = new double[steps];
        // numpy's linspace: start + i x ((stop - start) / intervals), which the reference uses.
        double increment = (sigmaMin - sigmaMax) / steps;
        for (int i = 0; i < steps; i++)
        {
            double sigma = FlowShift.Apply(i * increment + sigmaMax, shift);
            _timesteps[i] = Math.Floor(sigma * trainTimesteps);
            _sigmas[i] = (float)sigma;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => _timesteps;

    /// <inheritdoc />
    public IReadOnlyList<double> Sigmas => _sigmas;

    static double Lambda(double sigma) => Math.Log(1 - sigma) - Math.Log(sigma);

    static double ExpM1(double x) => Math.Abs(x) < 1e-5 ? x + x * x / 2 + x * x * x / 6 : Math.Exp(x) - 1;

    /// <inheritdoc />
    public Tensor Step(Tensor flow, int stepIndex, Tensor sample)
    {
        if (stepIndex != _expectedStep)
            throw new InvalidOperationException($"UniPC steps must be taken in order: expected step {_expectedStep}, got {stepIndex} (call Reset for a new video).");
        if (stepIndex >= _timesteps.Length) throw new ArgumentOutOfRangeException(nameof(stepIndex), $"Step {stepIndex} is past the last step {_timesteps.Length - 1}.");
        using var scope = NewDisposeScope();
        var x = sample;
        var dataPrediction = x - flow.to(x.dtype) * _sigmas[stepIndex];

        if (stepIndex > 0 && _lastSample is not null)
            x = Correct(dataPrediction, _lastSample, stepIndex, _lastOrder);

        // History outlives the caller's dispose scopes.
        _dataPredictions.Add(dataPrediction.DetachFromDisposeScope());
        if (_dataPredictions.Count > SolverOrder) { _dataPredictions[0].Dispose(); _dataPredictions.RemoveAt(0); }

        // Lower order at the start (not enough history) and at the final step.
        int order = Math.Min(SolverOrder, _timesteps.Length - stepIndex);
        order = Math.Min(order, _dataPredictions.Count);
        _lastOrder = order;
        _lastSample?.Dispose();
        _lastSample = x.alias().DetachFromDisposeScope();

        var next = Predict(x, stepIndex, order);
        _expectedStep++;
        return next.MoveToOuterDisposeScope();
    }

    // UniP: x_t = (sigma_t/sigma_s0) x - alpha_t (e^-h - 1) m0 - alpha_t B(h) rho D1, with rho = 1/2 at order 2.
    Tensor Predict(Tensor x, int step, int order)
    {
        double sigmaT = _sigmas[step + 1], sigmaS0 = _sigmas[step];
        double alphaT = 1 - sigmaT;
        double h = Lambda(sigmaT) - Lambda(sigmaS0);
        double hPhi1 = ExpM1(-h);
        double bh = hPhi1;
        var m0 = _dataPredictions[^1];
        var result = x * (sigmaT / sigmaS0) - m0 * (alphaT * hPhi1);
        if (order == 2)
        {
            double rk = (Lambda(_sigmas[step - 1]) - Lambda(sigmaS0)) / h;
            var d1 = (_dataPredictions[^2] - m0) / rk;
            result = result - d1 * (alphaT * bh * 0.5);
        }
        return result;
    }

    // UniC: corrects the sample reached by the previous predictor with the new data prediction.
    Tensor Correct(Tensor modelT, Tensor lastSample, int step, int order)
    {
        double sigmaT = _sigmas[step], sigmaS0 = _sigmas[step - 1];
        double alphaT = 1 - sigmaT;
        double h = Lambda(sigmaT) - Lambda(sigmaS0);
        double hh = -h;
        double hPhi1 = ExpM1(hh);
        double bh = hPhi1;
        var m0 = _dataPredictions[^1];

        double rhoLast;
        Tensor? correction = null;
        if (order == 1)
        {
            rhoLast = 0.5;
        }
        else
        {
            double rk = (Lambda(_sigmas[step - 2]) - Lambda(sigmaS0)) / h;
            var d1 = (_dataPredictions[^2] - m0) / rk;
            // Solve [[1, 1], [rk, 1]] rho = [b1, b2] with b_i from the phi functions of hh.
            double hPhiK = hPhi1 / hh - 1;
            double b1 = hPhiK / bh;
            hPhiK = hPhiK / hh - 0.5;
            double b2 = hPhiK * 2 / bh;
            double rho0 = (b1 - b2) / (1 - rk);
            rhoLast = b1 - rho0;
            correction = d1 * rho0;
        }
        var result = lastSample * (sigmaT / sigmaS0) - m0 * (alphaT * hPhi1);
        var d1t = modelT - m0;
        var total = correction is null ? d1t * rhoLast : correction + d1t * rhoLast;
        return result - total * (alphaT * bh);
    }

    /// <inheritdoc />
    public void Reset()
    {
        foreach (var t in _dataPredictions) t.Dispose();
        _dataPredictions.Clear();
        _lastSample?.Dispose();
        _lastSample = null;
        _lastOrder = 0;
        _expectedStep = 0;
    }
}
