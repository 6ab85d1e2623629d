namespace Svg2.Models.Checkpoints;

/// <summary>Hands over a new native-memory owner only when its set-up succeeded.</summary>
internal static class DisposeOnFailure
{
    /// <summary>Runs <paramref name="setUp"/> on <paramref name="owner"/> and returns it; disposes it if <paramref name="setUp"/> throws.</summary>
    public static T Run<T>(T owner, Action<T> setUp) where T : IDisposable
    {
        try
        {
            setUp(owner);
            return owner;
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }
}
