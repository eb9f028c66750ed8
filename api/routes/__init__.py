"""HTTP routes: each module owns one APIRouter of thin handlers."""
