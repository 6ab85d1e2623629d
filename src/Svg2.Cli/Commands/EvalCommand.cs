using System.CommandLine;
using Spectre.Console;
using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Cli.Rendering;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Statistics;
using Svg2.IO;

namespace Svg2.Cli.Commands;

/// <summary><c>svg2 eval</c>: one method on user-supplied q, k, v.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var qkv = new Option<string>("--qkv") { Description = "safetensors file with q, k, v: [B, H, S, D], F32, BF16 or F16", Required = true };
        var method = new Option<string>("--method") { Description = $"one of {string.Join(", ", MethodCatalog.Names)}", DefaultValueFactory = _ => "svg2" };
        var density = new Option<double?>("--density") { Description = "search the method's budget until the mean density matches this within 1%" };
        var parameter = new Option<double?>("--parameter") { Description = "budget of a baseline without --density: top_p (blocks, blocks-64), extent in [0, 1] (window), kept fraction (oracle); svg2 uses --top-p, svg2-ear --error-threshold" };
        var grid = new Option<string?>("--grid") { Description = "token grid FxHxW of the sequence, for the window method (default 1x1xS)" };
        var text = new Option<int[]?>("--text") { Description = "trailing text rows and prompt length, e.g. --text 256 96 (HunyuanVideo)", AllowMultipleArgumentsPerToken = true, Arity = new ArgumentArity(2, 2) };
        var statRows = new Option<long?>("--stat-rows") { Description = "query rows sampled for recall and error (default: all)" };
        var outPath = new Option<string?>("--out") { Description = "write the output tensor as 'out' (same shape and dtype, original order) to this safetensors file" };
        var json = new Option<string?>("--json") { Description = "write per-head density, recall, error, the configuration and timings to this JSON file" };
        var perHead = new Option<bool>("--per-head") { Description = "print the per-head table" };
        var padHeadDim = new Option<int?>("--pad-head-dim") { Description = "zero-pad the head dimension to this size first (q rescaled so the softmax is unchanged), e.g. 64 for FP8 on 32-channel heads" };
        var precision = new PrecisionOption();
        var device = new DeviceOptions();
        var config = new Svg2ConfigOptions();
        var command = new Command("eval", "Run one attention method on q, k, v from a safetensors file and report its quality against dense attention.");
        foreach (var option in (Option[])[qkv, method, density, parameter, grid, text, statRows, outPath, json, perHead, padHeadDim, .. precision.Options]) command.Options.Add(option);
        device.AddTo(command);
        config.AddTo(command);
        command.SetAction(result => CommandErrors.Run(() =>
        {
            string name = BenchCommand.ParseMethods(result.GetValue(method)!).Single().ToLowerInvariant();
            RejectUnused(result, name, config, density, parameter, grid, text);
            var options = precision.ApplyTo(result, config.Build(result));
            MethodCatalog.RequirePrecisionSupport(name, options);
            var onDevice = device.ResolveDevice(result);
            precision.RequireDevice(result, onDevice);
            var (q4, k4, v4) = QkvFile.Read(result.GetValue(qkv)!);
            long headDim = q4.shape[3];
            if (result.GetValue(padHeadDim) is { } padded) (q4, k4, v4) = HeadDimPadding.Pad(q4, k4, v4, padded);
            if (precision.IsFp8(result)) Fp8Tiles.RequireHeadDim(q4.shape[3]);
            var dtype = device.ResolveType(result) ?? q4.dtype;
            (q4, k4, v4) = (q4.to(dtype).to(onDevice), k4.to(dtype).to(onDevice), v4.to(dtype).to(onDevice));
            var (q, k, v) = (AttentionInputs.Flatten(q4), AttentionInputs.Flatten(k4), AttentionInputs.Flatten(v4));
            var textTokens = result.GetValue(text) is { Length: 2 } t ? new TextTokens(t[0], t[1]) : (TextTokens?)null;
            textTokens?.Validate(q.shape[1]);
            var tokenGrid = ParseGrid(result.GetValue(grid), q.shape[1]);
            double? target = result.GetValue(density);
            var budget = target is not null ? new MethodRunner.Budget(TargetDensity: target)
                : new MethodRunner.Budget(Parameter: MethodCatalog.Clusters(name) ? Svg2Budget(MethodCatalog.OptionsFor(name, options)) : result.GetValue(parameter));

            var backend = DeviceOptions.ChooseBackend(q, k, v);
            if (MethodCatalog.Clusters(name)) DeviceOptions.NoteFallback(backend, MethodCatalog.OptionsFor(name, options));
            var (measurement, output) = MethodRunner.Run(MethodCatalog.Create(name, options, tokenGrid, textTokens, backend, target), q, k, v, budget, result.GetValue(statRows));
            AnsiConsole.MarkupLineInterpolated($"[bold]{result.GetValue(qkv)}[/]: q [[{string.Join(", ", q4.shape)}]] {dtype} on {onDevice.type}, {backend.Name} backend");
            AnsiConsole.Write(MeasurementTable.Summary($"{name} against dense attention", [measurement], onDevice.type == TorchSharp.DeviceType.CPU));
            if (result.GetValue(perHead)) AnsiConsole.Write(MeasurementTable.PerHead(measurement, g => $"b{g / q4.shape[1]} h{g % q4.shape[1]}"));
            if (precision.IsFp8(result))
                AnsiConsole.Write(Fp8ErrorTable.Render(Fp8ErrorStudy.Run(q, k, v, options, target, textTokens)));
            if (target is not null && Math.Abs(measurement.MeanDensity - target.Value) > DensityBisection.RelativeTolerance * target.Value)
                AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] density {measurement.MeanDensity:P2} is the closest {name} reaches to {target:P2} on this input.");
            if (result.GetValue(outPath) is { } path)
                SafeTensorsWriter.Write(path, [new("out", output.reshape(q4.shape).narrow(3, 0, headDim).cpu())]);
            if (result.GetValue(json) is { } report)
                JsonReports.Write(report, new RunReport("eval", result.GetValue(qkv)!, q4.shape, dtype.ToString(), onDevice.type.ToString(), options, [measurement], DateTime.UtcNow.ToString("O")));
            output.Dispose();
            return 0;
        }));
        return command;
    }

    /// <summary>The budget parameter of a clustering method at its configured options: top_p, or -log10 λ under error routing.</summary>
    internal static double Svg2Budget(Configuration.Svg2Options options) =>
        options.Routing == Algorithm.KeyClusterRouting.ErrorAware ? Math.Min(options.ErrorRoutingRule.Level, Algorithm.ErrorRoutingRule.LevelRange.Max) : options.TopP;

    internal static TokenGrid ParseGrid(string? text, long tokens)
    {
        if (text is null) return TokenGrid.Sequence(tokens);
        var parts = text.Split('x');
        if (parts.Length != 3 || !parts.All(p => int.TryParse(p, out int n) && n > 0))
            throw new ArgumentException($"--grid must be FxHxW with positive integers (got '{text}').");
        var grid = new TokenGrid(int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]));
        return grid.Tokens == tokens ? grid : throw new ArgumentException($"--grid {text} holds {grid.Tokens} tokens; the inputs have {tokens}.");
    }

    /// <summary>Options the chosen method or budget would not read are an error, not a silent no-op.</summary>
    static void RejectUnused(ParseResult result, string method, Svg2ConfigOptions config, Option<double?> density, Option<double?> parameter,
        Option<string?> grid, Option<int[]?> text)
    {
        bool clusters = MethodCatalog.Clusters(method);
        if (result.GetValue(density) is not null)
            CommandErrors.RejectUnused(result, [parameter, config.TopP, config.ErrorThreshold], "with --density the budget is searched");
        if (clusters) CommandErrors.RejectUnused(result, [parameter], $"{method} takes its budget from {(method == MethodCatalog.Svg2 ? "--top-p" : "--error-threshold")} or --density");
        else CommandErrors.RejectUnused(result, [.. config.Svg2Only, text], $"the {method} method does not cluster or select clusters");
        if (clusters) config.RejectUnusedBy(result, [method.ToLowerInvariant()]);
        if (!MethodCatalog.KeepsMinimum(method))
            CommandErrors.RejectUnused(result, [config.MinRatio], $"the {method} method keeps no minimum of blocks");
        if (!method.Equals("window", StringComparison.OrdinalIgnoreCase))
            CommandErrors.RejectUnused(result, [grid], "only the window method reads the token grid");
        if (method.Equals("dense", StringComparison.OrdinalIgnoreCase))
            CommandErrors.RejectUnused(result, [density, parameter], "dense attention has no budget");
    }
}
