import type { ApiTokenInfo, Membership, User } from '@kiln/persistence';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Put,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { Throttle, ThrottlerGuard } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { Allow } from '../auth/access';
import { cookie, SESSION_COOKIE } from '../auth/auth.guard';
import { CurrentPrincipal, type Principal } from '../auth/principal';
import { CreateTokenDto, CreateUserDto, LoginDto, SetRoleDto } from './accounts.dto';
import { AccountsService } from './accounts.service';

const Uuid = (name: string): ParameterDecorator => Param(name, new ParseUUIDPipe({ version: '4' }));

@Controller('api/v1')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  /** Signs in: an HttpOnly session cookie, and the CSRF token its writes must carry. */
  @Allow.public()
  @UseGuards(ThrottlerGuard)
  @Throttle({ default: { limit: 10, ttl: 60_000 } })
  @Post('session')
  @HttpCode(200)
  async login(
    @Body() dto: LoginDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ user: User; csrfToken: string }> {
    const grant = await this.accounts.login(dto.username, dto.password);
    res.cookie(SESSION_COOKIE, grant.sessionId, {
      httpOnly: true,
      sameSite: 'lax',
      // Behind TLS (directly or through a proxy Express trusts), never sent over plain HTTP.
      secure: req.secure,
      expires: grant.expiresAt,
      path: '/',
    });
    return { user: grant.user, csrfToken: grant.csrfToken };
  }

  @Allow.user()
  @Delete('session')
  @HttpCode(204)
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    const sessionId = cookie(req.headers.cookie, SESSION_COOKIE);
    if (sessionId !== undefined) await this.accounts.logout(sessionId);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Allow.user()
  @Get('me')
  me(@CurrentPrincipal() principal: Principal): Promise<User> {
    return this.accounts.me(principal);
  }

  @Allow.user()
  @Get('tokens')
  tokens(@CurrentPrincipal() principal: Principal): Promise<ApiTokenInfo[]> {
    return this.accounts.listTokens(principal);
  }

  /** A personal API token, shown in this answer only. */
  @Allow.user()
  @Post('tokens')
  createToken(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateTokenDto,
  ): Promise<ApiTokenInfo & { token: string }> {
    return this.accounts.createToken(principal, dto.name);
  }

  @Allow.user()
  @Delete('tokens/:tokenId')
  @HttpCode(204)
  deleteToken(
    @CurrentPrincipal() principal: Principal,
    @Uuid('tokenId') tokenId: string,
  ): Promise<void> {
    return this.accounts.deleteToken(principal, tokenId);
  }

  @Allow.admin()
  @Get('users')
  users(): Promise<User[]> {
    return this.accounts.listUsers();
  }

  @Allow.admin()
  @Post('users')
  createUser(@Body() dto: CreateUserDto): Promise<User> {
    return this.accounts.createUser(dto);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/members')
  members(@Uuid('id') id: string): Promise<Membership[]> {
    return this.accounts.members(id);
  }

  @Allow.admin()
  @Put('repositories/:id/members/:userId')
  setRole(
    @Uuid('id') id: string,
    @Uuid('userId') userId: string,
    @Body() dto: SetRoleDto,
  ): Promise<Membership[]> {
    return this.accounts.setRole(id, userId, dto.role);
  }

  @Allow.admin()
  @Delete('repositories/:id/members/:userId')
  @HttpCode(204)
  removeRole(@Uuid('id') id: string, @Uuid('userId') userId: string): Promise<void> {
    return this.accounts.removeRole(id, userId);
  }
}
