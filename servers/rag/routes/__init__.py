"""The RAG server's routes, one module per resource; the graphs are added by `agents.add_agent_routes`."""

from servers.rag.routes import jobs, maintenance, materials, playground, query, system

ROUTERS = [system.router, query.router, materials.router, jobs.router, maintenance.router, playground.router]
