from datetime import date


def test_billing_run_command(app, billing):
    billing.account(subscriptions=2, start=date(2026, 1, 1))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["billing", "run", "--period", "2026-03"])
    assert result.exit_code == 0, result.output
    assert "2026-03: 1 invoices issued, 0 accounts already billed" in result.output
    assert "0 credit notes from corrections." in result.output
    again = runner.invoke(args=["billing", "run", "--period", "2026-03"])
    assert "0 invoices issued, 1 accounts already billed" in again.output


def test_billing_run_refuses_bad_periods(app):
    runner = app.test_cli_runner()
    for period, message in [("2026-3", "is not a period"), ("2017-12", "before the cutover"),
                            ("2999-01", "has not started")]:
        result = runner.invoke(args=["billing", "run", "--period", period])
        assert result.exit_code == 2 and message in result.output
