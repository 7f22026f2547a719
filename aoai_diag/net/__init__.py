"""Network primitives, each bounded by an explicit timeout and free of diagnosis: address classes, socket and TLS
helpers and TCP connects on the asyncio loop (connect), DNS questions to servers over asyncio datagram endpoints
(dnsquery, dnswire, dns_cache), certificate reading (certinfo), the minimal HTTP/1.1 and CONNECT client of the data-plane probe (http_client) and the IMDS fetch (imds).

Probes and the Azure layer import from here; nothing here imports a probe, the diagnosis or the Azure SDK.
"""
