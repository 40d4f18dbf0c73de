from app.forms import Form


class DismissForm(Form):
    """Dismiss the "What's changed" banner: nothing but the CSRF token."""
