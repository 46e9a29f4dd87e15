using Grace.Engine.Adapters.Ssh;

namespace Grace.Tests.Unit;

public sealed class SshCommandTemplateTests
{
    private static readonly SshCommandOptions Restart = new()
    {
        Command = "systemctl restart {Unit} && echo ${HOME}",
        Parameters = new(StringComparer.OrdinalIgnoreCase)
        {
            ["Unit"] = new SshParameterOptions { Type = "Identifier" },
            ["Token"] = new SshParameterOptions { Type = "Identifier", Secret = true, Default = "abc123" },
        },
    };

    [Fact]
    public void Each_value_becomes_one_quoted_shell_word_and_shell_variables_are_left_to_the_shell()
    {
        Assert.Equal(["Unit"], SshCommandTemplate.Placeholders(Restart.Command!));
        Assert.Equal("systemctl restart 'nginx.service' && echo ${HOME}",
            SshCommandTemplate.Render(Restart.Command!, new Dictionary<string, string> { ["Unit"] = "nginx.service" }, redact: false, Restart));
        Assert.Equal("'it'\"'\"'s; rm -rf /'", SshCommandTemplate.Quote("it's; rm -rf /"));
        Assert.Equal("timeout -k 5 30 sh -c 'echo '\"'\"'a b'\"'\"''", SshCommandTemplate.Wrap("echo 'a b'", 30));
    }

    [Theory]
    [InlineData("Identifier", "getty@tty1.service", true)]
    [InlineData("Identifier", "; rm -rf /", false)]
    [InlineData("Identifier", "$(reboot)", false)]
    [InlineData("Identifier", "-rf", false)]
    [InlineData("Identifier", "a\nb", false)]
    [InlineData("Integer", "42", true)]
    [InlineData("Integer", "4 2", false)]
    [InlineData("Number", "0.5", true)]
    [InlineData("Number", "NaN", false)]
    [InlineData("Path", "/var/log/app.log", true)]
    [InlineData("Path", "/var/../etc/shadow", false)]
    [InlineData("Path", "relative/path", false)]
    [InlineData("Path", "/tmp/a b", false)]
    public void A_value_must_fit_its_type(string type, string value, bool fits) =>
        Assert.Equal(fits, SshCommandTemplate.Check("P", value, new SshParameterOptions { Type = type }) is null);

    [Fact]
    public void A_choice_takes_only_its_values_and_numbers_their_range()
    {
        var choice = new SshParameterOptions { Type = "Choice", Values = ["start", "stop"] };
        Assert.Null(SshCommandTemplate.Check("Verb", "stop", choice));
        Assert.Contains("not one of start, stop", SshCommandTemplate.Check("Verb", "restart", choice));
        Assert.Contains("outside 1..10", SshCommandTemplate.Check("N", "11", new SshParameterOptions { Type = "Integer", Min = 1, Max = 10 }));
    }

    [Fact]
    public void Output_is_cut_and_secrets_are_redacted()
    {
        var output = "ok\npassword=hunter22\nAuthorization: Bearer abcdefghijklmnop\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nthe token abc123 leaked";
        var clean = SshCommandTemplate.Clean(output, ["abc123"]);
        Assert.DoesNotContain("hunter22", clean);
        Assert.DoesNotContain("abcdefghijklmnop", clean);
        Assert.DoesNotContain("AAAA", clean);
        Assert.DoesNotContain("abc123", clean);
        Assert.Contains("[private key redacted]", clean);
        Assert.EndsWith("more characters)", SshCommandTemplate.Clean(new string('x', 3000), [], 100));
        // A secret parameter is never shown in the command line either.
        Assert.DoesNotContain("abc123", SshCommandTemplate.Render("login {Token}", new Dictionary<string, string> { ["Token"] = "abc123" }, redact: true, Restart));
    }
}
