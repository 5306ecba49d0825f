using Registry.Grains.Jobs;

namespace Registry.Tests.Jobs;

/// <summary>An import keeps as many chunks in flight as storage answers in time: halved on unanswered lines, grown back one by one.</summary>
public sealed class ImportPaceTests
{
    [Fact]
    public void A_chunk_with_unanswered_lines_halves_the_window_down_to_one_and_clean_chunks_grow_it_back_by_one_up_to_the_setting()
    {
        var pace = new ImportPace(6);
        var windows = new List<int> { pace.Window };
        foreach (var unanswered in new[] { 3, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2 })
        {
            pace.Ended(unanswered);
            windows.Add(pace.Window);
        }

        Assert.Equal([6, 3, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 3], windows);
    }

    [Fact]
    public void A_job_starts_at_an_eighth_of_the_lines_and_clean_chunks_grow_them_by_an_eighth_before_a_chunk_is_added()
    {
        var pace = new ImportPace(3, 500);
        var paces = new List<(int Chunks, int Lines)> { (pace.Window, pace.Lines) };
        for (var chunk = 0; chunk < 9; chunk++)
        {
            pace.Ended(0);
            paces.Add((pace.Window, pace.Lines));
        }

        Assert.Equal([(3, 62), (3, 124), (3, 186), (3, 248), (3, 310), (3, 372), (3, 434), (3, 496), (3, 500), (3, 500)], paces);
    }

    [Fact]
    public void At_one_chunk_in_flight_unanswered_lines_halve_the_lines_a_chunk_applies_at_once_down_to_sixteen_and_clean_chunks_give_them_back_before_a_chunk()
    {
        var pace = new ImportPace(2, 500);
        while (pace.Lines < 500)
        {
            pace.Ended(0);
        }
        var paces = new List<(int Chunks, int Lines)> { (pace.Window, pace.Lines) };
        foreach (var unanswered in new[] { 5, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 })
        {
            pace.Ended(unanswered);
            paces.Add((pace.Window, pace.Lines));
        }

        Assert.Equal(
        [
            (2, 500), (1, 500), (1, 250), (1, 125), (1, 62), (1, 31), (1, 16), (1, 16),
            (1, 78), (1, 140), (1, 202), (1, 264), (1, 326), (1, 388), (1, 450), (1, 500), (2, 500), (2, 500), (1, 500),
        ], paces);
    }

    [Fact]
    public void A_setting_of_fewer_lines_than_sixteen_is_kept_as_it_is_and_unanswered_lines_halve_only_the_chunks()
    {
        var pace = new ImportPace(4, 4);
        pace.Ended(3);
        pace.Ended(3);
        Assert.Equal((1, 4), (pace.Window, pace.Lines));
        pace.Ended(3);
        Assert.Equal((1, 4), (pace.Window, pace.Lines));
        pace.Ended(0);
        Assert.Equal((2, 4), (pace.Window, pace.Lines));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void A_setting_below_one_still_keeps_one_chunk_in_flight(int most)
    {
        var pace = new ImportPace(most);
        pace.Ended(0);

        Assert.Equal(1, pace.Window);
    }
}
