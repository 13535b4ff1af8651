from django import forms
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from labs import services
from labs.errors import Throttled, Unauthenticated
from labs.permissions import person_of


class SignInForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}))
    password = forms.CharField(
        max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


@require_http_methods(["GET", "POST"])
def sign_in(request):
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.sign_in(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                ip=services.client_ip(request),
                request=request,
            )
        except Throttled as exc:
            form.add_error(None, exc.detail)
            status = 429
        except Unauthenticated:
            form.add_error(None, "Wrong username or password.")
            status = 400
        else:
            login(request, user)
            target = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
                target = "portal:dashboard"
            return redirect(target)
    return render(request, "portal/sign_in.html", {"form": form}, status=status)


@require_POST
def sign_out(request):
    logout(request)
    return redirect("portal:sign-in")


@login_required
def dashboard(request):
    return render(request, "portal/dashboard.html", {"person": person_of(request.user)})
