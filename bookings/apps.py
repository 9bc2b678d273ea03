from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self) -> None:
        from .pagecache import signals_connect

        signals_connect()
        # The online booking's copy of rarely-changing rows forgets them when one changes
        # (bookings.booking_refdata): a cache, not a rule, so a receiver is the place for it.
        from bookings import booking_refdata
        from bookings.models import BookingPolicy, Location
        from bookings.models_payments import DepositPolicy
        from clients.models import ConsentWording
        from treatments.models import Treatment

        for model in (Location, BookingPolicy, DepositPolicy, ConsentWording, Treatment):
            post_save.connect(
                booking_refdata.refdata_changed, sender=model, dispatch_uid=f"refdata-save-{model.__name__}"
            )
            post_delete.connect(
                booking_refdata.refdata_changed, sender=model, dispatch_uid=f"refdata-delete-{model.__name__}"
            )
