using System.Globalization;

namespace Svg2.Models.Training;

/// <summary>
/// The CSV logs of a run folder: log.csv, one row per optimiser step (steps done, loss, learning rate,
/// gradient norm before clipping, training seconds so far), and heldout.csv, one row per evaluation and
/// weight set (steps done, "raw" or "ema", the mean held-out loss, then the loss at each noise level).
/// Resuming from a checkpoint drops the rows of steps after it, which that checkpoint never saw.
/// </summary>
public sealed class TrainingLog
{
    /// <summary>The per-step log's file name.</summary>
    public const string StepFileName = "log.csv";

    /// <summary>The held-out log's file name.</summary>
    public const string HeldOutFileName = "heldout.csv";

    const string StepHeader = "step,loss,learning_rate,grad_norm,seconds";

    readonly string _stepPath;
    readonly string _heldOutPath;
    readonly string _heldOutHeader;

    TrainingLog(string folder, IReadOnlyList<double> levels)
    {
        _stepPath = Path.Combine(folder, StepFileName);
        _heldOutPath = Path.Combine(folder, HeldOutFileName);
        _heldOutHeader = "step,weights,mean," + string.Join(',', levels.Select(t => "t=" + F(t)));
    }

    /// <summary>Starts fresh logs in <paramref name="folder"/> (replacing old ones), or, with <paramref name="resumeStep"/>, keeps the rows up to that step.</summary>
    public static TrainingLog Open(string folder, IReadOnlyList<double> levels, int? resumeStep)
    {
        var log = new TrainingLog(folder, levels);
        Reset(log._stepPath, StepHeader, resumeStep);
        Reset(log._heldOutPath, log._heldOutHeader, resumeStep);
        return log;
    }

    /// <summary>Appends one optimiser step.</summary>
    public void AppendStep(TrainingStepResult step, double seconds) =>
        File.AppendAllText(_stepPath, $"{step.Step},{F(step.Loss)},{F(step.LearningRate)},{F(step.GradientNorm)},{F(seconds)}\n");

    /// <summary>Appends one evaluation of one weight set.</summary>
    public void AppendHeldOut(int step, string weights, HeldOutLoss loss) =>
        File.AppendAllText(_heldOutPath, $"{step},{weights},{F(loss.Mean)},{string.Join(',', loss.PerLevel.Select(F))}\n");

    /// <summary>Reads a per-step log: (steps done, loss) per row.</summary>
    public static IReadOnlyList<(int Step, double Loss)> ReadSteps(string path) =>
        Rows(path).Select(r => (int.Parse(r[0], CultureInfo.InvariantCulture), double.Parse(r[1], CultureInfo.InvariantCulture))).ToList();

    /// <summary>Reads a held-out log: (steps done, weights, mean loss) per row.</summary>
    public static IReadOnlyList<(int Step, string Weights, double Mean)> ReadHeldOut(string path) =>
        Rows(path).Select(r => (int.Parse(r[0], CultureInfo.InvariantCulture), r[1], double.Parse(r[2], CultureInfo.InvariantCulture))).ToList();

    static IEnumerable<string[]> Rows(string path) => File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','));

    static void Reset(string path, string header, int? keepUpTo)
    {
        var kept = keepUpTo is { } last && File.Exists(path)
            ? File.ReadLines(path).Skip(1).Where(l => l.Length > 0 && int.Parse(l[..l.IndexOf(',')], CultureInfo.InvariantCulture) <= last).ToList()
            : [];
        File.WriteAllLines(path, [header, .. kept]);
    }

    static string F(double value) => value.ToString("G9", CultureInfo.InvariantCulture);
}

/// <summary>One optimiser step's figures.</summary>
/// <param name="Step">Steps done after it (1 for the first).</param>
/// <param name="Loss">The batch's flow-matching loss.</param>
/// <param name="LearningRate">The learning rate it used.</param>
/// <param name="GradientNorm">The global gradient norm before clipping.</param>
public sealed record TrainingStepResult(int Step, double Loss, double LearningRate, double GradientNorm);
