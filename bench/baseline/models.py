from django.db import models


class Link(models.Model):
    slug = models.CharField(max_length=64, unique=True)
    url = models.URLField(max_length=2048)
    clicks = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.slug
