using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// What the planner writes besides the plan, so that a call's statistics cost no launches of their own:
/// per problem the density of the selection and the share of its video query clusters held at the
/// selection rule's floor (<see cref="Algorithm.SelectionFloor"/>).
/// </summary>
/// <param name="Values">[2, G] float64 output: row 0 the density, row 1 the floor share.</param>
/// <param name="VideoQueryClusters">The query clusters the floor share is over (text blocks follow them).</param>
/// <param name="VideoKeyClusters">The key clusters a query cluster's kept count is over.</param>
/// <param name="MinimumKept">The selection rule's minimum; a query cluster keeping at most max(1, minimum) is at the floor.</param>
internal readonly record struct PlanStatistics(Tensor Values, int VideoQueryClusters, int VideoKeyClusters, int MinimumKept);
