import click
from flask import current_app

from app.kb import services as kb_services
from app.search import bp, services


@bp.cli.command("reindex")
def reindex_command() -> None:
    """Rebuild the Help Center search index from the articles."""
    library = kb_services.get_library()
    total = sum(len(article.sections) for article in library.articles.values())
    with click.progressbar(length=total, label="Indexing article sections") as bar:
        last = 0

        def advance(count: int) -> None:
            nonlocal last
            bar.update(count - last)
            last = count

        count = services.reindex(current_app, library, progress=advance)
    click.echo(f"Indexed {count} sections of {len(library.articles)} articles.")
