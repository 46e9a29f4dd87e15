using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Xml.Linq;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;

namespace Grace.Engine.Adapters.Aws;

/// <summary>An Auto Scaling group as <c>DescribeAutoScalingGroups</c> tells it.</summary>
public sealed record AutoScalingGroupState(string Name, int MinSize, int MaxSize, int DesiredCapacity, IReadOnlyList<GroupInstance> Instances)
{
    /// <summary>Instances whose lifecycle state is <c>InService</c>.</summary>
    public int InService => Instances.Count(i => i.LifecycleState == "InService");

    /// <summary>The group in a few words: "desired 2 (min 1, max 4), 2 in service".</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"desired {DesiredCapacity} (min {MinSize}, max {MaxSize}), {InService} in service");
}

/// <summary>One instance of a group and where it stands.</summary>
public sealed record GroupInstance(string InstanceId, string LifecycleState, string HealthStatus);

/// <summary>
/// The two Auto Scaling calls Grace makes, on the service's query API (version 2011-01-01, a form
/// POST): AWSSDK.AutoScaling is not served where Grace is built, so the requests are signed by
/// AWSSDK.Core's own SigV4 signer with the credentials the standard chain found, never by hand.
/// </summary>
public sealed class AutoScalingApi(IHttpClientFactory httpFactory, AWSCredentials credentials, AwsConnection connection)
{
    private const string Version = "2011-01-01";
    private static readonly XNamespace Ns = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

    private readonly RegionEndpoint _region = RegionEndpoint.GetBySystemName(connection.Region);

    /// <summary>The endpoint: the target's override, else the region's own (autoscaling.REGION.amazonaws.com, or its partition's suffix).</summary>
    public Uri Endpoint => connection.Endpoint ?? new Uri($"https://autoscaling.{connection.Region}.{_region.PartitionDnsSuffix ?? "amazonaws.com"}/");

    /// <summary>The group, or null when the region has no group of that name.</summary>
    public async Task<AutoScalingGroupState?> DescribeGroupAsync(string groupName, CancellationToken cancellationToken)
    {
        var answer = await CallAsync("DescribeAutoScalingGroups", [new("AutoScalingGroupNames.member.1", groupName)], cancellationToken);
        var group = answer.Descendants(Ns + "AutoScalingGroups").Elements(Ns + "member")
            .FirstOrDefault(g => (string?)g.Element(Ns + "AutoScalingGroupName") == groupName);
        if (group is null)
        {
            return null;
        }

        var instances = group.Element(Ns + "Instances")?.Elements(Ns + "member")
            .Select(i => new GroupInstance((string?)i.Element(Ns + "InstanceId") ?? "", (string?)i.Element(Ns + "LifecycleState") ?? "", (string?)i.Element(Ns + "HealthStatus") ?? ""))
            .ToList() ?? [];
        return new AutoScalingGroupState(groupName, Number(group, "MinSize"), Number(group, "MaxSize"), Number(group, "DesiredCapacity"), instances);
    }

    /// <summary>Sets the group's desired capacity; with <paramref name="honorCooldown"/>, AWS refuses while the group is cooling down.</summary>
    public Task SetDesiredCapacityAsync(string groupName, int desired, bool honorCooldown, CancellationToken cancellationToken) =>
        CallAsync("SetDesiredCapacity",
        [
            new("AutoScalingGroupName", groupName),
            new("DesiredCapacity", desired.ToString(CultureInfo.InvariantCulture)),
            new("HonorCooldown", honorCooldown ? "true" : "false"),
        ], cancellationToken);

    private async Task<XDocument> CallAsync(string action, IEnumerable<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("Action", action), new("Version", Version) };
        form.AddRange(parameters);
        using var encoded = new FormUrlEncodedContent(form);
        var body = await encoded.ReadAsByteArrayAsync(cancellationToken);

        // The signer hashes exactly these bytes and signs the host, date and body hash it returns.
        var signing = new AWSSigningRequest { HttpMethod = HttpMethod.Post, RequestUri = Endpoint, Content = body };
        var signed = await AWSSigV4Signer.SignAsync(signing, new AWSSigV4Parameters { Credentials = credentials, Region = _region, Service = "autoscaling" }, cancellationToken);

        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded") { CharSet = "utf-8" };
        foreach (var (name, value) in signed.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var client = httpFactory.CreateClient(AwsClients.HttpClientName);
        using var response = await client.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return XDocument.Parse(text);
        }

        var status = (int)response.StatusCode;
        var (code, message) = ErrorOf(text);
        if (code is null)
        {
            var excerpt = text.Length > 300 ? text[..300] : text;
            throw new AwsCallException($"Auto Scaling {action} at {connection.Where} answered {status}: {excerpt.Trim()}", AwsErrors.IsTransient(null, status));
        }

        throw AwsErrors.Answered($"Auto Scaling {action}", connection, code, message, status);
    }

    /// <summary>The code and message of a query API error (<c>ErrorResponse/Error/Code</c>), if the answer is one.</summary>
    private static (string? Code, string? Message) ErrorOf(string text)
    {
        try
        {
            var error = XDocument.Parse(text).Descendants().FirstOrDefault(e => e.Name.LocalName == "Error");
            return (error?.Elements().FirstOrDefault(e => e.Name.LocalName == "Code")?.Value,
                error?.Elements().FirstOrDefault(e => e.Name.LocalName == "Message")?.Value);
        }
        catch (System.Xml.XmlException)
        {
            return (null, null);
        }
    }

    private static int Number(XElement group, string name) =>
        int.TryParse((string?)group.Element(Ns + name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new AwsCallException($"DescribeAutoScalingGroups answered a group without a {name}.", transient: false);
}
