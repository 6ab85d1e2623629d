using Svg2.Models.Schedulers;
using static TorchSharp.torch;

namespace Svg2.Tests.Models;

public class FlowSchedulerTests
{
    // Worked by hand from Wan's FlowUniPCMultistepScheduler as text2video.py builds it
    // (num_train_timesteps 1000, shift 1 at construction, set_timesteps(steps, shift)):
    // sigma_max = float32(1 - 1/1000) = 0.9990000128746033, sigma_min = 0; numpy linspace over
    // steps + 1 points without the last; s x / (1 + (s - 1) x); timesteps = int64(1000 sigma);
    // sigmas stored as float32 with a final 0. Evaluated with plain Python floats.
    static readonly double[] Wan50StepsShift5Timesteps =
    [
        999, 995, 991, 987, 982, 978, 973, 968, 963, 957, 952, 946, 940, 934, 927, 920, 913, 906, 898, 890,
        882, 873, 863, 854, 843, 833, 821, 809, 796, 783, 768, 753, 737, 720, 701, 681, 660, 636, 611, 584,
        555, 522, 487, 448, 405, 356, 302, 241, 172, 92,
    ];

    static readonly double[] TenStepsShift3Sigmas =
    [
        0.9996664524078369, 0.9639410972595215, 0.9227216839790344, 0.8746352195739746, 0.8178097009658813,
        0.7496247887611389, 0.666296124458313, 0.5621483325958252, 0.42826521396636963, 0.24979163706302643, 0.0,
    ];

    [Fact]
    public void UniPCTimestepsMatchWansDefaultSchedule()
    {
        var scheduler = new FlowUniPCScheduler(50, 5.0);
        Assert.Equal(Wan50StepsShift5Timesteps, scheduler.Timesteps);
        Assert.Equal(51, scheduler.Sigmas.Count);
        Assert.Equal(0.9997998476028442, scheduler.Sigmas[0], 12);
        Assert.Equal(0.09250685572624207, scheduler.Sigmas[49], 12);
        Assert.Equal(0.0, scheduler.Sigmas[50]);
    }

    [Fact]
    public void UniPCSigmasMatchAnotherShift()
    {
        var scheduler = new FlowUniPCScheduler(10, 3.0);
        for (int i = 0; i < TenStepsShift3Sigmas.Length; i++)
            Assert.Equal(TenStepsShift3Sigmas[i], scheduler.Sigmas[i], 12);
    }

    [Fact]
    public void EulerSigmasFollowWansSamplingSigmas()
    {
        // get_sampling_sigmas(8, 5): linspace(1, 0, 9)[:8] shifted by 5.
        double[] expected = [1.0, 0.9722222222222222, 0.9375, 0.8928571428571429, 0.8333333333333334, 0.75, 0.625, 0.4166666666666667, 0.0];
        var scheduler = new FlowEulerScheduler(8, 5.0);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], scheduler.Sigmas[i], 12);
        for (int i = 0; i < 8; i++) Assert.Equal(expected[i] * 1000, scheduler.Timesteps[i], 9);
    }

    public static TheoryData<string, int> Schedulers => new() { { "unipc", 12 }, { "unipc", 3 }, { "unipc", 1 }, { "euler", 7 } };

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void AnExactFlowLeadsToTheData(string kind, int steps)
    {
        // On the straight path x = (1 - sigma) x0 + sigma noise the true flow is noise - x0 at every
        // level; both methods are exact on it and must end at x0.
        IFlowScheduler scheduler = kind == "unipc" ? new FlowUniPCScheduler(steps) : new FlowEulerScheduler(steps);
        var generator = new Generator(3);
        using var data = randn([2, 3, 4], dtype: ScalarType.Float64, generator: generator);
        using var noise = randn([2, 3, 4], dtype: ScalarType.Float64, generator: generator);
        using var flow = noise - data;
        var x = noise * scheduler.Sigmas[0] + data * (1 - scheduler.Sigmas[0]);
        for (int step = 0; step < steps; step++)
        {
            x = scheduler.Step(flow, step, x);
            using var onPath = noise * scheduler.Sigmas[step + 1] + data * (1 - scheduler.Sigmas[step + 1]);
            Assert.True(TinyWan.RelativeError(x, onPath) < 1e-9, $"step {step} left the path");
        }
        Assert.True(TinyWan.RelativeError(x, data) < 1e-9);
    }

    [Fact]
    public void UniPCSecondOrderBeatsEulerOnACurvedFlow()
    {
        // dx/dsigma = -x solved from sigma_0 to 0: x(0) = x(sigma_0) e^{sigma_0}. A multistep
        // second-order method must land much closer than Euler with the same 10 evaluations.
        double Solve(IFlowScheduler scheduler)
        {
            var x = ones(1, dtype: ScalarType.Float64);
            for (int step = 0; step < scheduler.Timesteps.Count; step++) x = scheduler.Step(-x, step, x);
            return Math.Abs(x.item<double>() - Math.Exp(scheduler.Sigmas[0]));
        }
        double uniPC = Solve(new FlowUniPCScheduler(10, 1.0));
        double euler = Solve(new FlowEulerScheduler(10, 1.0));
        Assert.True(uniPC < euler / 3, $"UniPC error {uniPC}, Euler error {euler}");
    }

    [Fact]
    public void UniPCRefusesStepsOutOfOrder()
    {
        var scheduler = new FlowUniPCScheduler(4);
        using var x = zeros(2);
        Assert.Throws<InvalidOperationException>(() => scheduler.Step(x, 1, x));
    }
}
