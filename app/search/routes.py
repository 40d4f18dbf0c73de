from flask import request, session
from flask_login import current_user

from app.kb.articles import CATEGORIES
from app.search import bp, services
from app.search.forms import SearchForm
from app.web import is_fragment_request, public, render


@bp.route("")
@public
def search():
    form = SearchForm(request.args)
    form.validate()
    # A bad category or page is dropped, never the reader's words.
    query = (form.q.data or "").strip()[:200]
    category = form.category.data if form.category.data and not form.category.errors else None
    page = form.page.data if form.page.data and not form.page.errors else 1
    result = None
    if query:
        result = services.search_articles(query, category=category, page=page)
        key = services.record_search(
            result,
            category=category,
            user_id=current_user.id if current_user.is_authenticated else None,
            previous_id=session.get("last_search_id"),
        )
        if key is not None:
            session["last_search_id"] = key
    return render(
        "search/results.html",
        "search/_results.html",
        form=form,
        query=query,
        category=category,
        result=result,
        search_id=session.get("last_search_id") if result else None,
        categories=CATEGORIES,
        oob_count=is_fragment_request(),
    )
