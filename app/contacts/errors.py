"""The error of the contacts' functions: a message for the marketer and the form field it is about."""


class ContactError(ValueError):
    def __init__(self, message: str, field: str = "email"):
        super().__init__(message)
        self.field = field
