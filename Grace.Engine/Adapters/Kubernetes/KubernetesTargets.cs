using System.Net.Sockets;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using k8s;
using k8s.Autorest;
using k8s.Exceptions;
using Polly.Timeout;

namespace Grace.Engine.Adapters.Kubernetes;

/// <summary>The kinds of workload Grace acts on.</summary>
public enum WorkloadKind
{
    Deployment,
    StatefulSet,
}

/// <summary>A workload named by a target: its kind and name (<c>Deployment/orders-api</c>).</summary>
public sealed record WorkloadRef(WorkloadKind Kind, string Name)
{
    public override string ToString() => $"{Kind}/{Name}";

    /// <summary>Reads <c>Deployment/orders-api</c>, <c>deploy/orders-api</c>, <c>statefulset/ledger</c> or <c>sts/ledger</c>, as kubectl does.</summary>
    public static bool TryParse(string text, out WorkloadRef? workload)
    {
        workload = null;
        var parts = text.Trim().Split('/');
        if (parts.Length != 2 || !KubernetesNames.IsName(parts[1]))
        {
            return false;
        }

        WorkloadKind? kind = parts[0].ToLowerInvariant() switch
        {
            "deployment" or "deployments" or "deploy" => WorkloadKind.Deployment,
            "statefulset" or "statefulsets" or "sts" => WorkloadKind.StatefulSet,
            _ => null,
        };
        workload = kind is { } k ? new WorkloadRef(k, parts[1]) : null;
        return workload is not null;
    }
}

/// <summary>Where a Kubernetes target's credentials come from.</summary>
public enum CredentialSource
{
    /// <summary>A kubeconfig file (and one of its contexts).</summary>
    Kubeconfig,

    /// <summary>The service account Grace runs as, when Grace itself runs in a pod.</summary>
    InCluster,
}

/// <summary>
/// The settings of a Kubernetes target: how to reach the API server (a kubeconfig file and context,
/// or the pod's own service account), the namespace, and what the target is: a workload, or the
/// pods a label selector picks. It holds no credential: the token stays in the kubeconfig (or the
/// mounted service-account file) and in the client, never in a setting, a snapshot or a message.
/// </summary>
public sealed record KubernetesTarget(
    CredentialSource Credentials,
    string? KubeconfigPath,
    string? Context,
    Uri Server,
    string Namespace,
    WorkloadRef? Workload,
    LabelSelector? Selector,
    TimeSpan RequestTimeout,
    bool WatchEvents)
{
    /// <summary>What people read: "Deployment/orders-api in shop" or "pods app=orders in shop".</summary>
    public string Describe() => Workload is { } w ? $"{w} in namespace {Namespace}" : $"pods {Selector} in namespace {Namespace}";
}

/// <summary>
/// A workload (Deployment, StatefulSet) or the pods of a label selector, on a cluster reached by
/// a kubeconfig file and context or by the pod's own service account. Not bound to a machine: any
/// instance that can reach the API server acts on it. An API answer of 5xx or 429, a timeout or a
/// connection that fails is transient; a 4xx refusal (forbidden, not found, invalid) is not.
/// </summary>
public sealed class KubernetesKind(PathResolver paths) : TargetKindAdapter<KubernetesKind.Options>
{
    public static readonly TargetKind Id = new("Kubernetes");

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, Options options)
    {
        var problems = new List<string>();
        WorkloadRef? workload = null;
        if (options.Workload is { } text && !WorkloadRef.TryParse(text, out workload))
        {
            problems.Add($"Workload '{text}' must be Deployment/<name> or StatefulSet/<name> (a lowercase DNS name).");
        }

        LabelSelector? selector = null;
        if (options.Selector is { } selectorText)
        {
            if (!LabelSelector.TryParse(selectorText, out selector, out var why))
            {
                problems.Add($"Selector '{selectorText}' is not a label selector: {why}");
            }
            else if (selector!.IsEmpty)
            {
                problems.Add("Selector is empty: it would pick every pod in the namespace; name the labels of the target's pods.");
            }
        }

        if (options.RequestTimeoutSeconds is < 1 or > 300 || double.IsNaN(options.RequestTimeoutSeconds))
        {
            problems.Add($"RequestTimeoutSeconds must be between 1 and 300 (it is {options.RequestTimeoutSeconds:G}).");
        }

        if (options.Namespace is { } ns && !KubernetesNames.IsLabel(ns))
        {
            problems.Add($"Namespace '{ns}' is not a namespace name (lowercase letters, digits and '-', at most 63).");
        }

        if (options.InCluster && options.Kubeconfig is not null)
        {
            problems.Add("InCluster: set either InCluster (the pod's service account) or Kubeconfig, not both.");
        }

        if (problems.Count > 0)
        {
            return new TargetSettings(null, Problems: problems);
        }

        if (workload is null && selector is null)
        {
            return TargetSettings.Without("Workload", "is required for a Kubernetes target (Deployment/<name> or StatefulSet/<name>), unless a Selector picks its pods");
        }

        var timeout = TimeSpan.FromSeconds(options.RequestTimeoutSeconds);
        if (options.InCluster)
        {
            if (!KubernetesClientConfiguration.IsInCluster())
            {
                return TargetSettings.Without("InCluster",
                    "asks for the pod's service account, and Grace is not running in a Kubernetes pod here (no KUBERNETES_SERVICE_HOST, or no service-account token mounted); set Kubeconfig instead");
            }

            var inCluster = KubernetesClientConfiguration.InClusterConfig();
            return TargetSettings.Of(new KubernetesTarget(CredentialSource.InCluster, null, null, new Uri(inCluster.Host),
                options.Namespace ?? inCluster.Namespace ?? "default", workload, selector, timeout, options.WatchEvents));
        }

        var path = options.Kubeconfig is { } given ? paths.Resolve(given) : DefaultKubeconfig();
        if (path is null || !File.Exists(path))
        {
            return options.Kubeconfig is null
                ? TargetSettings.Without("Kubeconfig", "is required for a Kubernetes target unless InCluster is true (there is no KUBECONFIG and no ~/.kube/config here)")
                : new TargetSettings(null, Problems: [$"Kubeconfig '{options.Kubeconfig}' does not exist (resolved to {path})."]);
        }

        try
        {
            var file = KubernetesClientConfiguration.LoadKubeConfig(path);
            var contextName = options.Context ?? file.CurrentContext;
            var context = file.Contexts?.FirstOrDefault(c => c.Name == contextName);
            if (context is null)
            {
                var known = string.Join(", ", file.Contexts?.Select(c => c.Name) ?? []);
                return new TargetSettings(null, Problems: [options.Context is null
                    ? $"Context is not set and {path} names no current-context; name one of: {known}."
                    : $"Context '{options.Context}' is not a context in {path}; its contexts: {known}."]);
            }

            var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(file, contextName);
            return TargetSettings.Of(new KubernetesTarget(CredentialSource.Kubeconfig, path, contextName, new Uri(config.Host),
                options.Namespace ?? config.Namespace ?? "default", workload, selector, timeout, options.WatchEvents));
        }
        catch (Exception ex) when (ex is KubeConfigException or YamlDotNet.Core.YamlException or UriFormatException or IOException or ArgumentException)
        {
            // The loader's messages name what is wrong with the file, not the credentials in it.
            return new TargetSettings(null, Problems: [$"Kubeconfig {path} cannot be used: {ex.Message}"]);
        }
    }

    private static string? DefaultKubeconfig()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("KUBECONFIG")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return fromEnvironment ?? (string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".kube", "config"));
    }

    public override bool IsTransient(Exception exception) => exception switch
    {
        KubernetesApiException api => api.Transient,
        HttpOperationException http => KubernetesApiException.IsTransientStatus((int)http.Response.StatusCode),
        HttpRequestException or SocketException or TimeoutException or TimeoutRejectedException => true,
        _ => false,
    };

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a Kubernetes target.</summary>
    public sealed class Options
    {
        /// <summary>A kubeconfig file (relative to the content root); default <c>KUBECONFIG</c>, else <c>~/.kube/config</c>.</summary>
        public string? Kubeconfig { get; set; }

        /// <summary>A context of the kubeconfig; default its current-context.</summary>
        public string? Context { get; set; }

        /// <summary>Use the service account of the pod Grace runs in instead of a kubeconfig.</summary>
        public bool InCluster { get; set; }

        /// <summary>Default: the context's namespace, else <c>default</c>.</summary>
        public string? Namespace { get; set; }

        /// <summary><c>Deployment/&lt;name&gt;</c> or <c>StatefulSet/&lt;name&gt;</c>.</summary>
        public string? Workload { get; set; }

        /// <summary>A label selector of the target's pods (<c>app=orders,tier in (web)</c>); default the workload's own selector.</summary>
        public string? Selector { get; set; }

        /// <summary>How long one API request may take before it fails (a watch excepted).</summary>
        public double RequestTimeoutSeconds { get; set; } = 10;

        /// <summary>Turn the pods' warning events (CrashLoopBackOff, OOMKilled, FailedScheduling) into signals.</summary>
        public bool WatchEvents { get; set; } = true;
    }
}

/// <summary>
/// A failed call to the API server: what was asked, what came back, and whether it is worth another
/// try. An <see cref="InvalidOperationException"/>, as the other kinds' "unreachable" faults are: once
/// the retries are spent, the engine fails the mission with this message rather than holding it.
/// </summary>
public sealed class KubernetesApiException(string message, int? status, bool transient) : InvalidOperationException(message)
{
    /// <summary>The HTTP status the API server answered; null when nothing answered.</summary>
    public int? Status { get; } = status;

    /// <summary>Worth a retry: the server was busy or unreachable, not refusing.</summary>
    public bool Transient { get; } = transient;

    /// <summary>5xx and 429 (too many requests) are the server's trouble and pass; a 4xx refusal does not.</summary>
    public static bool IsTransientStatus(int status) => status is >= 500 or 429;
}

/// <summary>Kubernetes naming rules, checked before a name reaches the API server.</summary>
public static partial class KubernetesNames
{
    /// <summary>A DNS-1123 subdomain: a workload, pod or node name.</summary>
    public static bool IsName(string text) => text.Length is > 0 and <= 253 && Subdomain().IsMatch(text);

    /// <summary>A DNS-1123 label: a namespace.</summary>
    public static bool IsLabel(string text) => text.Length is > 0 and <= 63 && Label().IsMatch(text);

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial System.Text.RegularExpressions.Regex Subdomain();

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial System.Text.RegularExpressions.Regex Label();
}
