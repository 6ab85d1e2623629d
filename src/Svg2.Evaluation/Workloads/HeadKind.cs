namespace Svg2.Evaluation.Workloads;

/// <summary>The character of one generated attention head.</summary>
public enum HeadKind
{
    /// <summary>Strong position term: attends the spatial neighbourhood in the same frame.</summary>
    LocalSpatial,

    /// <summary>Position term on rows and columns only: attends the same place across all frames.</summary>
    Temporal,

    /// <summary>Content term on slowly rotating pairs, weak position: attends tokens of the same object anywhere.</summary>
    Semantic,

    /// <summary>Content and position together: the same object, nearby.</summary>
    Mixed,
}
