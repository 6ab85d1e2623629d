using Svg2.Models.Data;

namespace Svg2.Tests.Data;

public sealed class ClipPlanTests
{
    static IEnumerable<int> Frames(IEnumerable<int> starts, int clipFrames) => starts.SelectMany(s => Enumerable.Range(s, clipFrames));

    [Theory]
    [InlineData(795, 33, 33, 0.1)]
    [InlineData(296, 33, 16, 0.1)]
    [InlineData(81, 33, 33, 0.1)]
    [InlineData(500, 17, 5, 0.3)]
    [InlineData(120, 9, 1, 0.05)]
    public void HeldOutAndTrainingFramesNeverOverlap(int frameCount, int clipFrames, int stride, double fraction)
    {
        var random = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            var plan = ClipPlan.Create(frameCount, clipFrames, stride, fraction, random);
            var heldOut = Frames(plan.HeldOutStarts, clipFrames).ToHashSet();
            var training = Frames(plan.TrainingStarts, clipFrames).ToList();
            Assert.NotEmpty(heldOut);
            Assert.NotEmpty(training);
            Assert.DoesNotContain(training, heldOut.Contains);
            Assert.All(heldOut.Concat(training), f => Assert.InRange(f, 0, frameCount - 1));
            Assert.Equal(Enumerable.Range(plan.HeldOutStart, plan.HeldOutLength), heldOut.Order());
        }
    }

    [Fact]
    public void HoldsOutTheFractionInWholeClipsAndKeepsTheMostTrainingClips()
    {
        // 795 frames, clips of 33: 10% is 2.4 clips, so 2 (66 frames); the other 729 frames give 22 clips when the
        // region sits so that neither side wastes more than it must.
        var plan = ClipPlan.Create(795, 33, 33, 0.1, new Random(1));
        Assert.Equal(2, plan.HeldOutStarts.Count);
        Assert.Equal(66, plan.HeldOutLength);
        Assert.Equal(22, plan.TrainingStarts.Count);

        // A source of two whole clips still holds one out and trains on the other.
        var short_ = ClipPlan.Create(81, 33, 33, 0.1, new Random(1));
        Assert.Equal((1, 1), (short_.HeldOutStarts.Count, short_.TrainingStarts.Count));
        // One clip's worth: nothing is held out.
        var single = ClipPlan.Create(40, 33, 33, 0.1, new Random(1));
        Assert.Equal((0, 1), (single.HeldOutStarts.Count, single.TrainingStarts.Count));
    }

    [Fact]
    public void TheSeedChoosesTheRegion()
    {
        var starts = Enumerable.Range(0, 20).Select(seed => ClipPlan.Create(795, 33, 33, 0.1, new Random(seed)).HeldOutStart).ToList();
        Assert.True(starts.Distinct().Count() > 5, $"held-out regions barely move with the seed: {string.Join(", ", starts)}");
        Assert.Equal(ClipPlan.Create(795, 33, 33, 0.1, new Random(3)), ClipPlan.Create(795, 33, 33, 0.1, new Random(3)), new PlanComparer());
    }

    [Fact]
    public void NoFractionMeansEveryClipTrains()
    {
        var plan = ClipPlan.Create(100, 10, 5, 0, new Random(0));
        Assert.Empty(plan.HeldOutStarts);
        Assert.Equal(Enumerable.Range(0, 19).Select(i => i * 5), plan.TrainingStarts);
    }

    sealed class PlanComparer : IEqualityComparer<ClipPlan>
    {
        public bool Equals(ClipPlan? x, ClipPlan? y) => x!.HeldOutStart == y!.HeldOutStart && x.TrainingStarts.SequenceEqual(y.TrainingStarts) && x.HeldOutStarts.SequenceEqual(y.HeldOutStarts);

        public int GetHashCode(ClipPlan plan) => plan.HeldOutStart;
    }
}
