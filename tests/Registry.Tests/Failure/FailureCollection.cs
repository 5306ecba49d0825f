namespace Registry.Tests.Failure;

/// <summary>
/// The process-level failure tests run one after another: each starts three or four registry processes and an import or
/// a thousand beating devices, and two such clusters at once on two cores starved Azurite and the silos' start
/// (a table creation timed out, a read waited past the storage bound) rather than testing the failure at hand.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FailureCollection
{
    public const string Name = "Process-level failure tests";
}
