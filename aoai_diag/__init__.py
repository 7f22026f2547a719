"""aoai-diag: does this machine reach an Azure OpenAI account over its private endpoint?"""

__version__ = "1.0.0"
