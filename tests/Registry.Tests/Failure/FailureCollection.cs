using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(Registry.Tests.Failure.FailureCollectionFirst))]

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

/// <summary>
/// Starts the failure tests' collection first. It runs one test after another for about eight and a half minutes (523 s
/// of a 533 s test run from a fresh clone with the 100,000-line import, 2026-12-03; 404 s of 474 s with 10,000 lines),
/// the longest single path of the suite; started in its turn (behind the in-process collections, two at a time on two
/// cores) it began
/// three minutes late and the suite took 15 min. First, it runs beside the rest.
/// </summary>
public sealed class FailureCollectionFirst : ITestCollectionOrderer
{
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : notnull, ITestCollection =>
        [.. testCollections.OrderBy(c => c.TestCollectionDisplayName == FailureCollection.Name ? 0 : 1)];
}
