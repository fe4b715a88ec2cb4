"""The HTTP API's logic, free of azure.functions: each function returns an ApiResponse that
triggers/ turn into a func.HttpResponse."""
