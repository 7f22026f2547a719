"""Network primitives, each bounded by an explicit timeout and free of diagnosis: address classes, socket and TLS
helpers (connect), DNS questions to servers (dnsquery, dnswire, dns_cache), the poll loop that drives the DNS
exchanges and TCP connects of every target (ioloop: in the engine's thread, or a process-wide I/O thread), certificate reading (certinfo), the minimal HTTP/1.1 and
CONNECT client of the data-plane probe (http_client) and the IMDS fetch (imds).

Probes and the Azure layer import from here; nothing here imports a probe, the diagnosis or the Azure SDK.
"""
