// Integration tests start real hosts on real databases and wait on real deadlines; on a
// two-core machine they are steadier one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
